;;;; Tests that run the real executables built by run-tests.sh (examples/hello and the fixture
;;;; app in t/app/) as real processes, send them real signals and talk to them over real sockets.
;;;; Ports 18200-18299 and 19120-19139 belong to this suite.

(in-package #:lisp-deploy-tests)

(def-suite processes :in lisp-deploy :description "Built executables run as real processes.")
(in-suite processes)

(defun port-env (port) (format nil "PORT=~D" port))

(test hello-serves-its-routes-and-exits-0-on-sigterm
  (with-run (run "hello" (port-env 18200) "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "hello 1.0.0 listening on 127.0.0.1:18200")
    (multiple-value-bind (status body) (http-get 18200 "/")
      (is (= 200 status))
      (is (string= (format nil "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)~%") body)))
    (multiple-value-bind (status body) (http-get 18200 "/healthz")
      (is (= 200 status))
      (is (string= (format nil "ok 1.0.0~%") body)))
    (send-signal run sb-posix:sigterm)
    (is (= 0 (wait-for-exit run)))
    (is (search "received SIGTERM" (run-output run :stdout)))
    (is (search "stopped cleanly" (run-output run :stdout)))
    (is (string= "" (run-output run :stderr)))))

(test sigint-stops-gracefully-too
  (with-run (run "lisp-deploy-test-app" (port-env 18211) "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "listening on 127.0.0.1:18211")
    (send-signal run sb-posix:sigint)
    (is (= 0 (wait-for-exit run)))
    (is (search "received SIGINT" (run-output run :stdout)))
    (is (search "app stop hook ran" (run-output run :stdout)))))

(defun check-bad-config-exit (variable value &rest more-env)
  "Start hello with VARIABLE=VALUE and check it exits 2 with one error line naming both."
  (let ((run (apply #'start-process "hello" (format nil "~A=~A" variable value) more-env)))
   (unwind-protect
    (let ((code (wait-for-exit run))
          (err (lines (run-output run :stderr))))
      (is (= 2 code) "~A=~S: exit code ~D" variable value code)
      (is (= 1 (length err)) "~A=~S: stderr is not one line: ~S" variable value err)
      (is (search (format nil "~A=~S is invalid" variable value) (first err))
          "~A=~S: ~S" variable value err)
      (is (string= "" (run-output run :stdout)) "~A=~S started anyway" variable value))
    (kill-run run))))

(test malformed-environment-stops-the-program-at-start
  (check-bad-config-exit "PORT" "http")
  (check-bad-config-exit "PORT" "70000")
  (check-bad-config-exit "BIND_ADDRESS" "example.com" (port-env 18201))
  (check-bad-config-exit "SHUTDOWN_TIMEOUT" "soon" (port-env 18201)))

(test slow-request-in-flight-completes-during-sigterm
  (with-run (run "lisp-deploy-test-app" (port-env 18202) "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "listening on 127.0.0.1:18202")
    (let* ((result nil)
           (client (sb-thread:make-thread
                    (lambda ()
                      (setf result (handler-case (multiple-value-list (http-get 18202 "/slow?seconds=2"))
                                     (error (e) (list :error (princ-to-string e)))))))))
      (wait-for-output run "slow request started")
      (send-signal run sb-posix:sigterm)
      (wait-for-output run "received SIGTERM")
      ;; It stops accepting connections while the slow request is still being served.
      (is (wait-until (lambda () (not (port-accepts-p 18202)))
                      :what "port 18202 to stop accepting connections"))
      (is (not (search "slow request finished" (run-output run :stdout))))
      (is (= 0 (wait-for-exit run)))
      (sb-thread:join-thread client)
      (is (equal (list 200 (format nil "slow done after 2s~%")) result))
      (let ((out (run-output run :stdout)))
        ;; The order that makes the shutdown graceful: signal, request finishes, stop hook, exit.
        (is (< (search "received SIGTERM" out)
               (search "slow request finished" out)
               (search "app stop hook ran" out)
               (search "stopped cleanly" out))
            "unexpected order: ~A" out)))))

(test shutdown-that-outlasts-the-timeout-exits-1
  (with-run (run "lisp-deploy-test-app" (port-env 18203) "BIND_ADDRESS=127.0.0.1"
                 "SHUTDOWN_TIMEOUT=1")
    (wait-for-output run "listening on 127.0.0.1:18203")
    (let ((client (sb-thread:make-thread
                   (lambda () (ignore-errors (http-get 18203 "/slow?seconds=20"))))))
      (wait-for-output run "slow request started")
      (send-signal run sb-posix:sigterm)
      (is (= 1 (wait-for-exit run)))
      (is (search "did not stop within 1s" (run-output run :stderr)))
      (is (not (search "app stop hook ran" (run-output run :stdout))))
      (sb-thread:join-thread client :default nil :timeout 5))))

(defun check-readiness (notify-address port)
  "Run the fixture with NOTIFY_SOCKET=NOTIFY-ADDRESS and check READY=1 arrives once PORT
accepts connections, and STOPPING=1 after SIGTERM."
  (let ((socket (make-notify-socket notify-address)))
    (unwind-protect
         (with-run (run "lisp-deploy-test-app" (port-env port) "BIND_ADDRESS=127.0.0.1"
                        (format nil "NOTIFY_SOCKET=~A" notify-address))
           (is (string= "READY=1" (receive-notification socket)))
           (is (port-accepts-p port) "READY=1 came before port ~D accepted connections" port)
           (send-signal run sb-posix:sigterm)
           (is (string= "STOPPING=1" (receive-notification socket)))
           (is (= 0 (wait-for-exit run))))
      (sb-bsd-sockets:socket-close socket))))

(test readiness-reaches-a-path-notify-socket
  (check-readiness (namestring (merge-pathnames "notify" (fresh-directory))) 18204))

(test readiness-reaches-an-abstract-notify-socket
  (check-readiness (format nil "@lisp-deploy-test-~D-notify" (sb-posix:getpid)) 18205))

(test swank-listens-on-loopback-only-when-asked
  (with-run (run "lisp-deploy-test-app" (port-env 18206) "SWANK_PORT=18207")
    (wait-for-output run "listening on 0.0.0.0:18206")
    (is (equal '("0100007F") (tcp-listeners 18207)) "Swank listeners: ~S" (tcp-listeners 18207))
    (is (search "ssh -L 18207:127.0.0.1:18207 " (run-output run :stdout)))
    ;; A real Swank that evaluates, with SLIME's contribs already in the executable.
    (is (search "(:return (:ok \"=> :CONTRIBS-PRELOADED\")"
                (swank-eval 18207 "(and (member \"SWANK-REPL\" swank::*modules* :test #'string=)
                                        :contribs-preloaded)")))
    (send-signal run sb-posix:sigterm)
    (is (= 0 (wait-for-exit run)))))

(test no-swank-when-not-asked
  (with-run (run "lisp-deploy-test-app" (port-env 18208))
    (wait-for-output run "listening on 0.0.0.0:18208")
    (is (equal '("00000000") (tcp-listeners 18208)) "the app itself listens on 0.0.0.0")
    (is (null (tcp-listeners 18207)))
    (is (not (search "swank" (string-downcase (run-output run :stdout)))))
    (send-signal run sb-posix:sigterm)
    (is (= 0 (wait-for-exit run)))))

(test swank-asked-of-an-app-built-without-it-exits-2
  (with-run (run "lisp-deploy-test-app-no-swank" (port-env 18209) "SWANK_PORT=18210")
    (is (= 2 (wait-for-exit run)))
    (is (search "add \"lisp-deploy/swank\" to the app's :depends-on" (run-output run :stderr)))
    (is (null (tcp-listeners 18209)))))

(test error-at-start-exits-1-with-the-message-and-a-backtrace-on-stderr
  (let* ((notify-address (namestring (merge-pathnames "notify" (fresh-directory))))
         (notify (make-notify-socket notify-address)))
    (unwind-protect
         (with-run (run "lisp-deploy-test-app" (port-env 18212) "FAIL_AT_START=1"
                        (format nil "NOTIFY_SOCKET=~A" notify-address))
           (is (= 1 (wait-for-exit run)))
           (is (null (sb-bsd-sockets:socket-receive
                      notify (make-array 64 :element-type '(unsigned-byte 8)) nil))
               "a process that failed to start told systemd it was ready")
           (let ((err (lines (run-output run :stderr))))
             (is (search (concatenate 'string "lisp-deploy error: unhandled simple-error: "
                                      "test app refuses to start: FAIL_AT_START is set")
                         (first err))
                 "first stderr line: ~S" (first err))
             (is (< 3 (length err)) "no backtrace on stderr: ~S" err)
             (is (every (lambda (line) (uiop:string-prefix-p "lisp-deploy error: " line)) err)
                 "a stderr line without the prefix: ~S" err)
             (is (not (search "debugger" (string-downcase (run-output run :stderr)))))))
      (sb-bsd-sockets:socket-close notify))))

(test unhandled-error-in-another-thread-exits-1-with-a-backtrace
  (with-run (run "lisp-deploy-test-app" (port-env 18213) "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "listening on 127.0.0.1:18213")
    (ignore-errors (http-get 18213 "/fail-in-background"))
    (is (= 1 (wait-for-exit run)))
    (let ((err (lines (run-output run :stderr))))
      (is (string= "lisp-deploy error: unhandled simple-error: background job failed" (first err))
          "first stderr line: ~S" (first err))
      (is (some (lambda (line) (search "background job" line)) (rest err))
          "the backtrace is not the failing thread's: ~S" err))))

;;; The graceful stop answers everything accepted (issue 16). Ports 19120-19139 belong to these.

(defstruct (raw-connection (:constructor %make-raw-connection (socket stream))) socket stream)

(defun open-raw-connection (port)
  "Connect to 127.0.0.1:PORT and return the connection, writing nothing."
  (let ((socket (make-instance 'sb-bsd-sockets:inet-socket :type :stream :protocol :tcp)))
    (sb-bsd-sockets:socket-connect socket #(127 0 0 1) port)
    (%make-raw-connection socket (sb-bsd-sockets:socket-make-stream
                                  socket :input t :output t :external-format :latin-1
                                         :buffering :full :timeout *wait-seconds*))))

(defun close-raw-connection (connection)
  (ignore-errors (sb-bsd-sockets:socket-close (raw-connection-socket connection))))

(defun send-keep-alive-get (connection path)
  "Write an HTTP/1.1 GET of PATH on CONNECTION: a client that would keep the connection alive."
  (let ((stream (raw-connection-stream connection)))
    (format stream "GET ~A HTTP/1.1~C~CHost: 127.0.0.1~C~C~C~C"
            path #\Return #\Linefeed #\Return #\Linefeed #\Return #\Linefeed)
    (finish-output stream)))

(defun read-response (connection)
  "Read one HTTP response from CONNECTION: the status code, the Connection header (or NIL) and
the body, read to its Content-Length. Signals an error when the server closed the connection
before a complete response (the failure these tests look for)."
  (let* ((stream (raw-connection-stream connection))
         (status-line (or (read-line stream nil)
                          (error "the connection closed before a response")))
         (headers (loop for line = (string-right-trim '(#\Return)
                                                      (or (read-line stream nil)
                                                          (error "the connection closed in the headers")))
                        until (string= line "")
                        collect (let ((colon (position #\: line)))
                                  (cons (string-downcase (subseq line 0 colon))
                                        (string-trim " " (subseq line (1+ colon)))))))
         (length (parse-integer (or (cdr (assoc "content-length" headers :test #'string=))
                                    (error "no Content-Length in ~S" headers))))
         (body (make-string length)))
    (unless (= length (read-sequence body stream))
      (error "the connection closed in the body"))
    (values (parse-integer status-line :start 9 :end 12)
            (cdr (assoc "connection" headers :test #'string=))
            body)))

(defun closed-by-server-p (connection)
  "True when the server has closed CONNECTION: a read finds end of file, not more data."
  (handler-case (null (read-char (raw-connection-stream connection) nil))
    (error () t)))

(test sigterm-answers-every-connection-accepted-before-it
  (with-run (run "lisp-deploy-test-app" (port-env 19120) "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "listening on 127.0.0.1:19120")
    (let ((silent (loop repeat 8 collect (open-raw-connection 19120)))
          (kept-alive (open-raw-connection 19120))
          (slow (open-raw-connection 19120)))
      (unwind-protect
           (progn
             ;; A kept-alive connection that has been answered once and is idle at SIGTERM.
             (send-keep-alive-get kept-alive "/")
             (multiple-value-bind (status connection-header) (read-response kept-alive)
               (is (= 200 status))
               (is (not (equalp "close" connection-header)) "the app does not keep connections alive"))
             ;; A request in flight at SIGTERM.
             (send-keep-alive-get slow "/slow?seconds=1")
             (wait-for-output run "slow request started")
             (send-signal run sb-posix:sigterm)
             (wait-for-output run "received SIGTERM")
             ;; New connections are refused at once...
             (is (wait-until (lambda () (not (port-accepts-p 19120)))
                             :what "port 19120 to stop accepting connections"))
             ;; ...the request in flight completes, saying the connection ends with it...
             (multiple-value-bind (status connection-header body) (read-response slow)
               (is (= 200 status))
               (is (equalp "close" connection-header) "the slow response said Connection: ~S"
                   connection-header)
               (is (equal (format nil "slow done after 1s~%") body)))
             ;; ...and with nothing left in flight, the connections accepted before SIGTERM that
             ;; had sent nothing are still owed an answer: each gets a complete one, then the close.
             ;; Their clients write a second later, well inside the 5 s grace: a stop that only
             ;; waited for requests in flight has exited by then and dropped them.
             (sleep 1)
             (dolist (connection silent) (send-keep-alive-get connection "/"))
             (loop for connection in silent
                   for i from 1
                   do (multiple-value-bind (status connection-header body)
                          (handler-case (read-response connection)
                            (error (e) (values :dropped (princ-to-string e) nil)))
                        (is (eql 200 status) "silent connection ~D: ~S ~S" i status connection-header)
                        (is (equalp "close" connection-header) "silent connection ~D: Connection: ~S"
                            i connection-header)
                        (is (equal (format nil "test app~%") body))
                        (is (closed-by-server-p connection) "silent connection ~D stayed open" i)))
             ;; The idle kept-alive connection is closed cleanly (a FIN, then nothing), not left open.
             (is (closed-by-server-p kept-alive))
             (is (= 0 (wait-for-exit run)))
             (is (not (port-accepts-p 19120)))
             (let ((out (run-output run :stdout)))
               (is (< (search "received SIGTERM" out)
                      (search "slow request finished" out)
                      (search "app stop hook ran" out)
                      (search "stopped cleanly" out))
                   "unexpected order: ~A" out)))
        (mapc #'close-raw-connection (list* kept-alive slow silent))))))

(test a-connection-that-never-sends-does-not-hold-the-stop
  ;; A port probe or a browser's preconnect: accepted, never a request. The stop waits its
  ;; grace (5 s) for it, closes it and exits 0, inside the default SHUTDOWN_TIMEOUT (8 s).
  (with-run (run "lisp-deploy-test-app" (port-env 19121) "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "listening on 127.0.0.1:19121")
    (let ((silent (open-raw-connection 19121)))
      (unwind-protect
           (progn
             (send-signal run sb-posix:sigterm)
             (is (= 0 (wait-for-exit run)))
             (is (closed-by-server-p silent))
             (is (search "stopped cleanly" (run-output run :stdout))))
        (close-raw-connection silent)))))
