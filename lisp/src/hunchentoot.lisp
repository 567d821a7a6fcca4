;;;; Hunchentoot under lisp-deploy's main: an acceptor built from the environment's configuration,
;;;; and a stop that really waits for every request in flight.

(defpackage #:lisp-deploy/hunchentoot
  (:use #:cl)
  (:export #:main #:start-acceptor #:stop-acceptor))

(in-package #:lisp-deploy/hunchentoot)

(defun start-acceptor (config &key (class 'hunchentoot:easy-acceptor) initargs)
  "Make an acceptor of CLASS listening on CONFIG's address and port, start it and return it.
INITARGS are extra initargs for CLASS and win over the defaults here. The access log goes to
standard output (one line a request); Hunchentoot's messages keep going to standard error."
  (hunchentoot:start
   (apply #'make-instance class
          (append initargs
                  (list :port (lisp-deploy:config-port config)
                        :address (lisp-deploy:config-address config)
                        :access-log-destination *standard-output*)))))

(defun requests-in-progress (acceptor)
  "How many requests ACCEPTOR is processing right now."
  ;; Hunchentoot exports no reader for this count (its own soft stop reads the same slot). A
  ;; fixnum read needs no lock for a poll that only waits for zero.
  (hunchentoot::accessor-requests-in-progress acceptor))

(defun stop-acceptor (acceptor)
  "Stop ACCEPTOR accepting connections and return once every request in flight has finished.
Hunchentoot's own soft stop returns when the first of several requests in flight finishes, so
the rest are waited for here. lisp-deploy's main bounds the whole wait by SHUTDOWN_TIMEOUT."
  (hunchentoot:stop acceptor :soft t)
  (loop while (plusp (requests-in-progress acceptor))
        do (sleep 0.05))
  acceptor)

(defun main (&key (name "app") (acceptor-class 'hunchentoot:easy-acceptor) acceptor-initargs
               on-start on-stop)
  "Serve a Hunchentoot app in the foreground through LISP-DEPLOY:MAIN, and never return.
NAME names the app in log lines. ACCEPTOR-CLASS and ACCEPTOR-INITARGS make the acceptor (see
START-ACCEPTOR); PORT and BIND_ADDRESS from the environment give its port and address.
ON-START, optional, is called with the started acceptor (open a database pool, warm a cache);
ON-STOP, optional, is called with no arguments after the last request in flight has finished
(close what ON-START opened)."
  (lisp-deploy:main
   :name name
   :start (lambda (config)
            (let ((acceptor (start-acceptor config :class acceptor-class
                                                   :initargs acceptor-initargs)))
              (when on-start (funcall on-start acceptor))
              acceptor))
   :stop (lambda (acceptor)
           (stop-acceptor acceptor)
           (when on-stop (funcall on-stop)))))
