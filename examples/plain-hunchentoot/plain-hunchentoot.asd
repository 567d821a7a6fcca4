;;;; A Hunchentoot app written the plain way, as the Common Lisp Cookbook and the Heroku examples write
;;;; one: its own `main` starts an easy-acceptor on PORT and then waits on the acceptor's thread. It does
;;;; not depend on lisp-deploy, so it never sends systemd READY=1: lisp-deploy runs it under Type=exec.
;;;; Tests deploy it to prove that such an app stays up (test/integration/plain-app.test.ts).

(defsystem "plain-hunchentoot"
  :description "A plain Hunchentoot app with its own main (no lisp-deploy runtime)."
  :version "1.0.0"
  :license "MIT"
  :depends-on ("hunchentoot" "bordeaux-threads")
  :pathname "src/"
  :components ((:file "package")
               (:file "app" :depends-on ("package")))
  :build-operation "program-op"
  :build-pathname "plain-hunchentoot"
  :entry-point "plain-hunchentoot:main")
