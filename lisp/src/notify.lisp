;;;; systemd's readiness protocol (sd_notify(3)), so a unit can be Type=notify: systemd then
;;;; counts the service as started only once it really listens, and knows when it is stopping.

(in-package #:lisp-deploy)

(defun sd-notify (message &key (getenv #'uiop:getenv))
  "Send MESSAGE (e.g. \"READY=1\" or \"STOPPING=1\") to the socket named by NOTIFY_SOCKET, read
through GETENV. Return T when sent, NIL when NOTIFY_SOCKET is unset or empty (not under systemd's
Type=notify). A socket that cannot be reached is logged as a warning rather than signalled: a
lost notification must not take the service down."
  (let ((address (funcall getenv "NOTIFY_SOCKET")))
    (when (and address (plusp (length address)))
      (handler-case (progn (send-unix-datagram address message) t)
        (error (e)
          (log-event :warn "could not send ~A to NOTIFY_SOCKET ~A: ~A" message address e)
          nil)))))
