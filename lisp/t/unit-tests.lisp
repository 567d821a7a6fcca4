;;;; In-process tests of the runtime's pure parts: configuration, logging, sd_notify.

(in-package #:lisp-deploy-tests)

(def-suite unit :in lisp-deploy :description "Configuration, log lines and sd_notify, in process.")
(in-suite unit)

(defun env (&rest pairs)
  "A GETENV function over PAIRS (name value name value ...), every other variable unset."
  (lambda (name) (getf pairs (intern name :keyword))))

(defun config-error-message (&rest pairs)
  "The one-line report of the CONFIG-ERROR that reading PAIRS signals, or NIL when none is."
  (handler-case (progn (lisp-deploy:read-config :getenv (apply #'env pairs)) nil)
    (lisp-deploy:config-error (e) (princ-to-string e))))

(test defaults-when-nothing-is-set
  (let ((config (lisp-deploy:read-config :getenv (env))))
    (is (= 8080 (lisp-deploy:config-port config)))
    (is (string= "0.0.0.0" (lisp-deploy:config-address config)))
    (is (null (lisp-deploy:config-swank-port config)))
    (is (= 8 (lisp-deploy:config-shutdown-timeout config)))))

(test empty-means-unset
  (let ((config (lisp-deploy:read-config
                 :getenv (env :port "" :bind_address "" :swank_port "" :shutdown_timeout ""))))
    (is (= 8080 (lisp-deploy:config-port config)))
    (is (string= "0.0.0.0" (lisp-deploy:config-address config)))
    (is (null (lisp-deploy:config-swank-port config)))
    (is (= 8 (lisp-deploy:config-shutdown-timeout config)))))

(test values-that-parse-are-used
  (let ((config (lisp-deploy:read-config
                 :getenv (env :port "18200" :bind_address "127.0.0.1" :swank_port "4005"
                              :shutdown_timeout "0"))))
    (is (= 18200 (lisp-deploy:config-port config)))
    (is (string= "127.0.0.1" (lisp-deploy:config-address config)))
    (is (= 4005 (lisp-deploy:config-swank-port config)))
    (is (= 0 (lisp-deploy:config-shutdown-timeout config))))
  (is (string= "::" (lisp-deploy:config-address (lisp-deploy:read-config :getenv (env :bind_address "::")))))
  (is (= 65535 (lisp-deploy:config-port (lisp-deploy:read-config :getenv (env :port "65535"))))))

(test malformed-port-is-an-error-naming-variable-and-value
  (dolist (bad '("abc" "0" "65536" "-1" "+80" " 80" "80 " "8080x" "1e3" "80.0" "99999999999999999999"))
    (let ((message (config-error-message :port bad)))
      (is (stringp message) "PORT=~S was accepted" bad)
      (when message
        (is (search (format nil "PORT=~S" bad) message) "~S does not quote the value" message)
        (is (search "leave PORT unset for 8080" message) "~S does not say what unset means" message)
        (is (not (find #\Newline message)) "~S is not one line" message)))))

(test malformed-other-variables-are-errors
  (is (search "BIND_ADDRESS=\"localhost\"" (config-error-message :bind_address "localhost")))
  (is (search "BIND_ADDRESS=\"256.0.0.1\"" (config-error-message :bind_address "256.0.0.1")))
  (is (search "BIND_ADDRESS=\"1.2.3\"" (config-error-message :bind_address "1.2.3")))
  (is (search "SWANK_PORT=\"swank\"" (config-error-message :swank_port "swank")))
  (is (search "SWANK_PORT=\"8080\"" (config-error-message :swank_port "8080")))
  (is (search "SWANK_PORT=\"18200\"" (config-error-message :port "18200" :swank_port "18200")))
  (is (search "SHUTDOWN_TIMEOUT=\"5s\"" (config-error-message :shutdown_timeout "5s")))
  (is (search "SHUTDOWN_TIMEOUT=\"3601\"" (config-error-message :shutdown_timeout "3601"))))

(test log-event-writes-one-prefixed-line-per-line
  (let ((out (make-string-output-stream))
        (err (make-string-output-stream)))
    (let ((*standard-output* out) (*error-output* err))
      (lisp-deploy:log-event :info "listening on ~A:~D" "0.0.0.0" 18200)
      (lisp-deploy:log-event :error "boom~%frame 0~%frame 1"))
    (is (string= (format nil "lisp-deploy info: listening on 0.0.0.0:18200~%")
                 (get-output-stream-string out)))
    (is (equal '("lisp-deploy error: boom" "lisp-deploy error: frame 0" "lisp-deploy error: frame 1")
               (lines (get-output-stream-string err))))))

(test sd-notify-does-nothing-without-notify-socket
  (is (null (lisp-deploy:sd-notify "READY=1" :getenv (env))))
  (is (null (lisp-deploy:sd-notify "READY=1" :getenv (env :notify_socket "")))))

(test sd-notify-sends-to-a-path-socket
  (let* ((path (namestring (merge-pathnames "notify" (fresh-directory))))
         (socket (make-notify-socket path)))
    (unwind-protect
         (progn
           (is (eq t (lisp-deploy:sd-notify "READY=1" :getenv (env :notify_socket path))))
           (is (string= "READY=1" (receive-notification socket))))
      (sb-bsd-sockets:socket-close socket))))

(test sd-notify-sends-to-an-abstract-socket
  (let* ((address (format nil "@lisp-deploy-test-~D-unit" (sb-posix:getpid)))
         (socket (make-notify-socket address)))
    (unwind-protect
         (progn
           (is (eq t (lisp-deploy:sd-notify "STOPPING=1" :getenv (env :notify_socket address))))
           (is (string= "STOPPING=1" (receive-notification socket))))
      (sb-bsd-sockets:socket-close socket))))

(test sd-notify-to-a-missing-socket-warns-and-returns-nil
  (let ((err (make-string-output-stream)))
    (let ((*error-output* err))
      (is (null (lisp-deploy:sd-notify "READY=1" :getenv (env :notify_socket "/nonexistent/notify")))))
    (is (search "lisp-deploy warn: could not send READY=1" (get-output-stream-string err)))))

(test every-exported-symbol-has-a-docstring
  (dolist (package '("LISP-DEPLOY" "LISP-DEPLOY/HUNCHENTOOT" "LISP-DEPLOY/SWANK"))
    (do-external-symbols (symbol package)
      (is (some (lambda (kind) (documentation symbol kind)) '(function variable type structure))
          "~A:~A has no docstring" package symbol))))

(test the-core-system-depends-on-nothing-but-sbcl-contribs
  ;; An app that uses neither Hunchentoot nor Swank must not be made to load them.
  (is (equal '() (remove-if (lambda (d) (and (consp d) (eq (first d) :feature)))
                            (asdf:system-depends-on (asdf:find-system "lisp-deploy"))))))

(test loading-lisp-deploy-swank-is-what-enables-swank
  (is (eq #'lisp-deploy/swank:start-swank-on-loopback lisp-deploy:*start-swank-function*)))
