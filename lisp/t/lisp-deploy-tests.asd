;;;; FiveAM tests of lisp-deploy's runtime, run by run-tests.sh (which first builds the
;;;; executables the process tests drive). Kept out of lisp-deploy.asd so the image builder, which
;;;; copies that file and src/ only, never ships tests.

(defsystem "lisp-deploy-tests"
  :description "Tests of lisp-deploy's runtime (configuration, notify, logging, real processes) and of the image build scripts."
  :license "MIT"
  :depends-on ("lisp-deploy" "lisp-deploy/hunchentoot" "lisp-deploy/swank" "fiveam" (:require "sb-bsd-sockets") (:require "sb-posix"))
  :serial t
  :components ((:file "package")
               (:file "helpers")
               (:file "unit-tests")
               (:file "process-tests")
               (:file "command-tests")
               (:file "build-script-tests")))
