(in-package #:hello)

(defparameter +greeting+ "Hello from Common Lisp, deployed by lisp-deploy."
  "The text of the front page. Tests change this line to prove a new release is served.")

(defparameter +version+ "1.0.0"
  "The app's version, served on the front page and on /healthz.")

(defvar *acceptor* nil "The running Hunchentoot acceptor, or NIL.")

(hunchentoot:define-easy-handler (front-page :uri "/") ()
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "~A (hello ~A)~%" +greeting+ +version+))

(hunchentoot:define-easy-handler (slow-page :uri "/slow") ()
  ;; The front page after about a second: a request still in flight when a release switches slots
  ;; (lisp-deploy's zero-downtime stress test keeps one there). Nothing else links here.
  (sleep 1)
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "~A (hello ~A)~%" +greeting+ +version+))

(hunchentoot:define-easy-handler (health :uri "/healthz") ()
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "ok ~A~%" +version+))

(defun start (&key (port 8080) (address "0.0.0.0"))
  "Start serving on ADDRESS:PORT and return the acceptor."
  (setf *acceptor* (hunchentoot:start
                    (make-instance 'hunchentoot:easy-acceptor
                                   :port port :address address
                                   :access-log-destination nil))))

(defun stop ()
  "Stop serving, letting every request in flight finish."
  (when *acceptor*
    (lisp-deploy/hunchentoot:stop-acceptor *acceptor*)
    (setf *acceptor* nil)))

(defun main ()
  "Entry point of the executable: serve in the foreground under lisp-deploy's runtime, which reads
PORT (default 8080) and BIND_ADDRESS, stops gracefully on SIGTERM and tells systemd when ready."
  (lisp-deploy:main :name (format nil "hello ~A" +version+)
                    :start (lambda (config)
                             (start :port (lisp-deploy:config-port config)
                                    :address (lisp-deploy:config-address config)))
                    :stop (lambda (acceptor)
                            (declare (ignore acceptor))
                            (stop))))
