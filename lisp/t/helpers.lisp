;;;; What the process tests need: run a built executable with a chosen environment, read what it
;;;; logs, talk HTTP to it, receive its sd_notify datagrams, and see which sockets it listens on.
;;;; SBCL-specific on purpose: this is the SBCL runtime's test harness.

(in-package #:lisp-deploy-tests)

(defparameter *wait-seconds* 30
  "The longest any single wait in a test lasts before the test fails instead of hanging.")

(defun executable (name)
  "The path of the executable NAME built by run-tests.sh."
  (let ((build (uiop:getenv "LISP_DEPLOY_TEST_BUILD")))
    (unless (and build (plusp (length build)))
      (error "LISP_DEPLOY_TEST_BUILD is unset: run these tests through lisp/t/run-tests.sh"))
    (let ((path (format nil "~Abin/~A" (uiop:ensure-directory-pathname build) name)))
      (unless (probe-file path)
        (error "executable ~A is missing: run-tests.sh builds it first" path))
      path)))

(defvar *run-counter* 0)

(defun fresh-directory ()
  "A new empty directory under .build/lisp/runs/ for one process's output files and sockets."
  (let ((dir (uiop:ensure-directory-pathname
              (format nil "~Aruns/~D-~D/" (uiop:getenv "LISP_DEPLOY_TEST_BUILD")
                      (sb-posix:getpid) (incf *run-counter*)))))
    (uiop:delete-directory-tree dir :validate t :if-does-not-exist :ignore)
    (ensure-directories-exist dir)))

(defstruct child process directory)

(defun start-process (name &rest environment)
  "Start executable NAME with only PATH, HOME and ENVIRONMENT (strings \"VAR=value\") in its
environment, standard output and error going to files; return a CHILD."
  (apply #'start-command name '() environment))

(defun start-command (name arguments &rest environment)
  "Like START-PROCESS, with ARGUMENTS (strings) on the executable's command line."
  (let* ((dir (fresh-directory))
         (process (sb-ext:run-program (executable name) arguments
                                      :environment (list* "PATH=/usr/bin:/bin"
                                                          (format nil "HOME=~A" (namestring dir))
                                                          environment)
                                      :input nil
                                      :output (merge-pathnames "stdout" dir)
                                      :error (merge-pathnames "stderr" dir)
                                      :if-output-exists :supersede
                                      :if-error-exists :supersede
                                      :wait nil)))
    (make-child :process process :directory dir)))

(defun run-output (run stream)
  "What RUN has written so far to STREAM (:stdout or :stderr)."
  (let ((file (merge-pathnames (string-downcase stream) (child-directory run))))
    (or (ignore-errors (uiop:read-file-string file)) "")))

(defun wait-until (predicate &key (seconds *wait-seconds*) (what "condition"))
  "Poll PREDICATE every 20 ms until it returns true (and return its value); error after SECONDS."
  (loop with deadline = (+ (get-internal-real-time) (* seconds internal-time-units-per-second))
        for value = (funcall predicate)
        when value return value
        when (> (get-internal-real-time) deadline)
          do (error "timed out after ~Ds waiting for ~A" seconds what)
        do (sleep 0.02)))

(defun wait-for-output (run text &key (stream :stdout))
  "Wait until RUN's STREAM contains TEXT."
  (wait-until (lambda () (search text (run-output run stream)))
              :what (format nil "~S on ~(~A~); so far stdout: ~S stderr: ~S" text stream
                            (run-output run :stdout) (run-output run :stderr))))

(defun wait-for-exit (run)
  "Wait until RUN's process exits and return its exit code; kill it and error if it does not."
  (let ((process (child-process run)))
    (handler-case
        (wait-until (lambda () (not (sb-ext:process-alive-p process))) :what "process exit")
      (error (e)
        (ignore-errors (sb-ext:process-kill process 9))
        (error e)))
    (sb-ext:process-wait process)
    (sb-ext:process-exit-code process)))

(defun send-signal (run signal)
  "Send SIGNAL (a number, e.g. sb-posix:sigterm) to RUN's process."
  (sb-ext:process-kill (child-process run) signal))

(defun kill-run (run)
  "Make sure RUN's process is gone (test cleanup)."
  (let ((process (child-process run)))
    (when (sb-ext:process-alive-p process)
      (ignore-errors (sb-ext:process-kill process 9))
      (ignore-errors (sb-ext:process-wait process)))))

(defmacro with-run ((var name &rest environment) &body body)
  "Start executable NAME with ENVIRONMENT as VAR, run BODY, and always kill the process after."
  `(let ((,var (start-process ,name ,@environment)))
     (unwind-protect (progn ,@body) (kill-run ,var))))

(defun http-get (port path)
  "GET PATH from 127.0.0.1:PORT over HTTP/1.0; return the status code and the body."
  (let ((socket (make-instance 'sb-bsd-sockets:inet-socket :type :stream :protocol :tcp)))
    (unwind-protect
         (progn
           (sb-bsd-sockets:socket-connect socket #(127 0 0 1) port)
           (let ((stream (sb-bsd-sockets:socket-make-stream socket :input t :output t
                                                                   :external-format :latin-1
                                                                   :buffering :full)))
             (format stream "GET ~A HTTP/1.0~C~CHost: 127.0.0.1~C~C~C~C"
                     path #\Return #\Linefeed #\Return #\Linefeed #\Return #\Linefeed)
             (finish-output stream)
             (let* ((response (with-output-to-string (out)
                                (loop for line = (read-line stream nil)
                                      while line do (write-line line out))))
                    (status (if (uiop:string-prefix-p "HTTP/" response)
                                (parse-integer response :start 9 :end 12)
                                (error "no HTTP response from port ~D: ~S" port response)))
                    (body-start (search (format nil "~C~%~C~%" #\Return #\Return) response)))
               (values status (if body-start (subseq response (+ body-start 4)) "")))))
      (sb-bsd-sockets:socket-close socket))))

(defun port-accepts-p (port)
  "True when something accepts TCP connections on 127.0.0.1:PORT."
  (let ((socket (make-instance 'sb-bsd-sockets:inet-socket :type :stream :protocol :tcp)))
    (unwind-protect
         (handler-case (progn (sb-bsd-sockets:socket-connect socket #(127 0 0 1) port) t)
           (sb-bsd-sockets:socket-error () nil))
      (sb-bsd-sockets:socket-close socket))))

(defun tcp-listeners (port)
  "The local addresses (as /proc/net/tcp{,6} writes them, e.g. \"0100007F\") of every socket
listening on PORT on this machine, IPv4 and IPv6."
  (let ((hex-port (format nil "~4,'0X" port)))
    (loop for file in '("/proc/net/tcp" "/proc/net/tcp6")
          nconc (with-open-file (in file :if-does-not-exist nil)
                  (when in
                    (read-line in nil)  ; the header
                    (loop for line = (read-line in nil)
                          while line
                          for fields = (remove "" (uiop:split-string line :separator " ")
                                               :test #'string=)
                          for local = (second fields)
                          for colon = (position #\: local :from-end t)
                          when (and (string= (subseq local (1+ colon)) hex-port)
                                    (string= (fourth fields) "0A"))  ; 0A = LISTEN
                            collect (subseq local 0 colon)))))))

(defun make-notify-socket (address)
  "Bind a Unix datagram socket where systemd's would be: ADDRESS is a path, or @name for the
abstract namespace, exactly as NOTIFY_SOCKET spells it."
  (let* ((abstract (char= (char address 0) #\@))
         (socket (make-instance (if abstract
                                    'sb-bsd-sockets:local-abstract-socket
                                    'sb-bsd-sockets:local-socket)
                                :type :datagram)))
    (sb-bsd-sockets:socket-bind socket (if abstract (subseq address 1) address))
    (setf (sb-bsd-sockets:non-blocking-mode socket) t)
    socket))

(defun receive-notification (socket)
  "Wait for the next datagram on SOCKET and return it as a string."
  (let ((buffer (make-array 4096 :element-type '(unsigned-byte 8))))
    (wait-until (lambda ()
                  (multiple-value-bind (buf length) (sb-bsd-sockets:socket-receive socket buffer nil)
                    (when (and buf length)
                      (sb-ext:octets-to-string buffer :end length :external-format :utf-8))))
                :what "an sd_notify datagram")))

(defun lines (text)
  "TEXT's non-empty lines."
  (remove "" (uiop:split-string text :separator '(#\Newline)) :test #'string=))

(defun swank-eval (port form-string)
  "Connect to Swank on 127.0.0.1:PORT the way SLIME does, ask it to evaluate FORM-STRING with
swank:interactive-eval, and return the raw text of its :return message."
  (let ((socket (make-instance 'sb-bsd-sockets:inet-socket :type :stream :protocol :tcp)))
    (unwind-protect
         (let ((stream (progn (sb-bsd-sockets:socket-connect socket #(127 0 0 1) port)
                              (sb-bsd-sockets:socket-make-stream
                               socket :input t :output t :element-type '(unsigned-byte 8)
                                      :buffering :full))))
           (flet ((send (text)
                    (let ((octets (sb-ext:string-to-octets text :external-format :utf-8)))
                      ;; Swank frames every message with its length: six hex digits.
                      (write-sequence (sb-ext:string-to-octets
                                       (format nil "~6,'0X" (length octets)) :external-format :ascii)
                                      stream)
                      (write-sequence octets stream)
                      (finish-output stream)))
                  (receive ()
                    (let ((header (make-array 6 :element-type '(unsigned-byte 8))))
                      (unless (= 6 (read-sequence header stream))
                        (error "Swank closed the connection"))
                      (let ((body (make-array (parse-integer (sb-ext:octets-to-string header) :radix 16)
                                              :element-type '(unsigned-byte 8))))
                        (read-sequence body stream)
                        (sb-ext:octets-to-string body :external-format :utf-8)))))
             (send (format nil "(:emacs-rex (swank:interactive-eval ~S) \"COMMON-LISP-USER\" t 1)"
                           form-string))
             (loop for message = (receive)
                   when (uiop:string-prefix-p "(:return " message) return message)))
      (sb-bsd-sockets:socket-close socket))))
