;;;; lisp-deploy's runtime: the production `main` every Lisp web app would otherwise write by hand.
;;;;
;;;; Three systems, so an app loads only what it uses:
;;;;   "lisp-deploy"             configuration from the environment, foreground serving, graceful
;;;;                             SIGTERM/SIGINT, systemd readiness, crash = backtrace + non-zero exit.
;;;;                             Needs nothing beyond UIOP and SBCL's contribs.
;;;;   "lisp-deploy/hunchentoot" a ready-made start/stop pair for Hunchentoot acceptors.
;;;;   "lisp-deploy/swank"       Swank on 127.0.0.1, started only when SWANK_PORT is set.
;;;; The image builder copies this file and src/ into the build context; keep the runtime to them.

(defsystem "lisp-deploy"
  :description "Production main for Common Lisp web apps: env config, graceful shutdown, systemd notify."
  :version "0.1.0"
  :license "MIT"
  :depends-on ((:feature :sbcl (:require "sb-bsd-sockets"))
               (:feature :sbcl (:require "sb-posix")))
  :pathname "src/"
  :serial t
  :components ((:file "package")
               (:file "sbcl")
               (:file "log")
               (:file "config")
               (:file "notify")
               (:file "main")))

(defsystem "lisp-deploy/hunchentoot"
  :description "Serve a Hunchentoot acceptor under lisp-deploy's main."
  :version "0.1.0"
  :license "MIT"
  :depends-on ("lisp-deploy" "hunchentoot")
  :pathname "src/"
  :components ((:file "hunchentoot")))

(defsystem "lisp-deploy/swank"
  :description "Let lisp-deploy's main open Swank on 127.0.0.1 when SWANK_PORT is set."
  :version "0.1.0"
  :license "MIT"
  :depends-on ("lisp-deploy" "swank")
  :pathname "src/"
  :components ((:file "swank")))
