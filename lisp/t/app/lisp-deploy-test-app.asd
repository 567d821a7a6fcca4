;;;; A tiny Hunchentoot app built into a real executable by lisp/t/run-tests.sh, so the runtime's
;;;; tests can drive what examples/hello does not: a slow route, a failing start, Swank.

(defsystem "lisp-deploy-test-app"
  :description "Test fixture for lisp-deploy's runtime: slow requests, start failures, Swank."
  :license "MIT"
  :depends-on ("lisp-deploy/hunchentoot" "lisp-deploy/swank")
  :components ((:file "app"))
  :build-operation "program-op"
  :build-pathname "lisp-deploy-test-app"
  :entry-point "lisp-deploy-test-app:main")
