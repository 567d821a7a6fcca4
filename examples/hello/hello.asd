;;;; The example app every lisp-deploy test and benchmark deploys: one page, a health route, a version.

(defsystem "hello"
  :description "A small Hunchentoot app deployed by lisp-deploy's examples, tests and benchmarks."
  :version "1.0.0"
  :license "MIT"
  ;; lisp-deploy/swank: Swank on 127.0.0.1 when SWANK_PORT is set (reached through an SSH tunnel).
  :depends-on ("hunchentoot" "lisp-deploy/hunchentoot" "lisp-deploy/swank")
  :pathname "src/"
  :components ((:file "package")
               (:file "app" :depends-on ("package")))
  :build-operation "program-op"
  :build-pathname "hello"
  :entry-point "hello:main")
