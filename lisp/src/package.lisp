;;;; The runtime's public face. Everything an app calls is exported from LISP-DEPLOY; the
;;;; implementation-specific primitives live in sbcl.lisp under the same package, unexported.

(defpackage #:lisp-deploy
  (:use #:cl)
  (:export
   ;; main.lisp
   #:main
   #:*start-swank-function*
   ;; config.lisp
   #:config
   #:config-port
   #:config-address
   #:config-swank-port
   #:config-shutdown-timeout
   #:read-config
   #:config-error
   #:+default-port+
   #:+default-address+
   #:+default-shutdown-timeout+
   ;; log.lisp
   #:log-event
   ;; notify.lisp
   #:sd-notify))
