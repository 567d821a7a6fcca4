;;;; Loaded at build time: starts a thread that never ends on its own.

(in-package #:cl-user)

(defvar *fixture-poller*
  (sb-thread:make-thread (lambda () (loop (sleep 60))) :name "fixture-poller"))

(defun threads-at-load-main ()
  (format t "never reached~%"))
