;;;; An executable that prints what it sees at start: the build scripts' toplevel (the secret environment
;;;; file, the saved heap size). Used by build-script-tests.lisp only.

(defsystem "lisp-deploy-test-env-echo"
  :description "Build fixture: prints environment variables and its dynamic space size, then exits."
  :entry-point "cl-user::env-echo-main"
  :components ((:file "env-echo")))
