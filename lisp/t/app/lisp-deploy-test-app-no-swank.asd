;;;; A second fixture: an app built WITHOUT lisp-deploy/swank, so the tests can check that asking it
;;;; for Swank stops it at start with the fix named (examples/hello carries Swank, so it cannot serve).

(defsystem "lisp-deploy-test-app-no-swank"
  :description "Test fixture for lisp-deploy's runtime: an app without Swank."
  :license "MIT"
  :depends-on ("lisp-deploy/hunchentoot")
  :components ((:file "no-swank"))
  :build-operation "program-op"
  :build-pathname "lisp-deploy-test-app-no-swank"
  :entry-point "lisp-deploy-test-app-no-swank:main")
