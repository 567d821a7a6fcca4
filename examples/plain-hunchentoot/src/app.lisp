(in-package #:plain-hunchentoot)

(defvar *acceptor* nil "The running Hunchentoot acceptor, or NIL.")

(hunchentoot:define-easy-handler (front-page :uri "/") ()
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "Hello from a plain Hunchentoot app.~%"))

(hunchentoot:define-easy-handler (health :uri "/healthz") ()
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "ok~%"))

(defun start-app (&key (port 8080) address)
  "Start an easy-acceptor on ADDRESS (NIL: every address) and PORT."
  (setf *acceptor* (hunchentoot:start (make-instance 'hunchentoot:easy-acceptor
                                                     :port port :address address))))

(defun stop-app ()
  "Stop the acceptor."
  (when *acceptor*
    (hunchentoot:stop *acceptor*)
    (setf *acceptor* nil)))

(defun environment-port ()
  "PORT from the environment (Heroku and lisp-deploy set it), else 8080."
  (let ((port (uiop:getenv "PORT")))
    (if (and port (plusp (length port))) (parse-integer port) 8080)))

(defun main ()
  "Entry point of the executable, the Cookbook's way: start the server, then keep the process alive by
joining the acceptor's listener thread. C-c (SIGINT) stops it; SIGTERM ends it through SBCL's own handler."
  (let ((address (uiop:getenv "BIND_ADDRESS")))
    (start-app :port (environment-port)
               :address (and address (plusp (length address)) address)))
  (format t "Serving on port ~A.~%" (environment-port))
  (finish-output)
  (handler-case
      (bt:join-thread (find-if (lambda (thread) (search "hunchentoot-listener" (bt:thread-name thread)))
                               (bt:all-threads)))
    (#+sbcl sb-sys:interactive-interrupt #-sbcl error ()
      (format *error-output* "Aborting.~%")
      (stop-app)
      (uiop:quit 0))))
