;;;; A system that starts a thread when it is loaded, as some libraries do (a scheduler, a pool): the
;;;; build must refuse to save it with an error naming the thread. Used by build-script-tests.lisp only.

(defsystem "lisp-deploy-test-threads-at-load"
  :description "Build fixture: starts a thread named \"fixture-poller\" at load time."
  :entry-point "cl-user::threads-at-load-main"
  :components ((:file "threads-at-load")))
