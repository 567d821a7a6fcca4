;;;; The example app every lisp-deploy test and benchmark deploys: one page, a health route, a version.

(defsystem "hello"
  :description "A small Hunchentoot app deployed by lisp-deploy's examples, tests and benchmarks."
  :version "1.0.0"
  :license "MIT"
  :depends-on ("hunchentoot" "lisp-deploy/hunchentoot")
  :pathname "src/"
  :components ((:file "package")
               (:file "app" :depends-on ("package")))
  :build-operation "program-op"
  :build-pathname "hello"
  :entry-point "hello:main")
