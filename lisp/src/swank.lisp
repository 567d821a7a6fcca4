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

(setf lisp-deploy:*start-swank-function* #'start-swank-on-loopback)
