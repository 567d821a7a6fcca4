;;;; Swank for lisp-deploy's main. Loading this system is what makes SWANK_PORT work; Swank then
;;;; listens on the loopback interface only, reached from a workstation through an SSH tunnel.

(defpackage #:lisp-deploy/swank
  (:use #:cl)
  (:export #:start-swank-on-loopback))

(in-package #:lisp-deploy/swank)

(defun start-swank-on-loopback (port)
  "Start a Swank server on 127.0.0.1:PORT that accepts repeated connections, and return the
port. Never another interface: Swank runs arbitrary code for whoever connects."
  (swank:create-server :port port :interface "127.0.0.1" :dont-close t))

(defparameter *preloaded-contribs*
  '("SWANK-UTIL" "SWANK-REPL" "SWANK-ARGLISTS" "SWANK-C-P-C" "SWANK-FUZZY" "SWANK-FANCY-INSPECTOR"
    "SWANK-PACKAGE-FU" "SWANK-PRESENTATIONS" "SWANK-TRACE-DIALOG" "SWANK-INDENTATION"
    "SWANK-MACROSTEP")
  "The Swank contribs SLIME's usual setup (slime-fancy) asks for on connecting. They are loaded
now, while the app is built, because the running executable has no SLIME sources to load them
from.")

(swank:swank-require *preloaded-contribs*)

(setf lisp-deploy:*start-swank-function* #'start-swank-on-loopback)
