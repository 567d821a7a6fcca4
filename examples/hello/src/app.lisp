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

(defparameter +schema-version+ 1
  "The version of the data layout in the state directory that this release expects; MIGRATE writes it.")

(defun state-file (name)
  "The file NAME in the app's state directory (STATE_DIRECTORY, set by systemd's StateDirectory= or the
local target's volume), or NIL when the app has none."
  (let ((directory (uiop:getenv "STATE_DIRECTORY")))
    (when (and directory (plusp (length directory)))
      (merge-pathnames name (uiop:ensure-directory-pathname directory)))))

(defun read-state (name)
  "The first line of the state file NAME, or NIL when it does not exist."
  (let ((file (state-file name)))
    (when (and file (probe-file file))
      (with-open-file (in file) (read-line in nil)))))

(defun write-state (name value)
  "Replace the state file NAME (which has a type, e.g. visits.txt) with VALUE, written whole to a
temporary file and renamed into place."
  (let* ((file (state-file name))
         (temporary (make-pathname :type "tmp" :defaults file)))
    (with-open-file (out temporary :direction :output :if-exists :supersede)
      (format out "~A~%" value))
    (rename-file temporary file)))

(defun migrate ()
  "The release command (`hello migrate`): bring the state directory to +SCHEMA-VERSION+. Runs once per
release, before the release serves; an error here keeps the previous release serving."
  (if (state-file "schema-version.txt")
      (progn (write-state "schema-version.txt" +schema-version+)
             (format t "migrated the state directory to schema ~D~%" +schema-version+))
      (format t "no STATE_DIRECTORY: nothing to migrate~%")))

(defvar *visits-lock* (sb-thread:make-mutex :name "hello visits") "Serialises the visit counter's read and write.")

(hunchentoot:define-easy-handler (state-page :uri "/state") ()
  ;; What the state directory holds, counting this visit: data that outlives releases and rollbacks.
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (if (state-file "visits.txt")
      (sb-thread:with-mutex (*visits-lock*)
        (let ((visits (1+ (parse-integer (or (read-state "visits.txt") "0")))))
          (write-state "visits.txt" visits)
          (format nil "schema ~A, visit ~D (hello ~A)~%" (or (read-state "schema-version.txt") "none") visits +version+)))
      (format nil "no state directory (hello ~A)~%" +version+)))

(defun start (&key (port 8080) (address "0.0.0.0"))
  "Start serving on ADDRESS:PORT and return the acceptor."
  (setf *acceptor* (hunchentoot:start
                    (make-instance 'lisp-deploy/hunchentoot:graceful-easy-acceptor
                                   :port port :address address
                                   :access-log-destination nil))))

(defun stop ()
  "Stop serving: answer every connection already accepted (see lisp-deploy/hunchentoot), then return."
  (when *acceptor*
    (lisp-deploy/hunchentoot:stop-acceptor *acceptor*)
    (setf *acceptor* nil)))

(defun main ()
  "Entry point of the executable: serve in the foreground under lisp-deploy's runtime, which reads
PORT (default 8080) and BIND_ADDRESS, stops gracefully on SIGTERM and tells systemd when ready."
  (lisp-deploy:main :name (format nil "hello ~A" +version+)
                    :commands '(("migrate" . migrate))
                    :start (lambda (config)
                             (start :port (lisp-deploy:config-port config)
                                    :address (lisp-deploy:config-address config)))
                    :stop (lambda (acceptor)
                            (declare (ignore acceptor))
                            (stop))))
