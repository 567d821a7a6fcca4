;;;; Configuration from the environment, read once at start and checked before anything runs.
;;;;
;;;; Variable          unset or empty means            otherwise
;;;; PORT              8080                            a decimal port, 1-65535 (Heroku sets it)
;;;; BIND_ADDRESS      0.0.0.0 (all IPv4 interfaces)   an IPv4 or IPv6 literal, e.g. 127.0.0.1
;;;; SWANK_PORT        no Swank                        a decimal port, 1-65535, not PORT
;;;; SHUTDOWN_TIMEOUT  8 seconds                       whole seconds, 0-3600
;;;;
;;;; Empty is treated like unset because unit files and `docker run -e VAR=` produce empty values
;;;; when a template leaves a slot blank; anything else that does not parse is an error, never
;;;; silently replaced by a default. The 8-second shutdown default fits inside Docker's 10-second
;;;; stop grace period (systemd allows 90).

(in-package #:lisp-deploy)

(defconstant +default-port+ 8080
  "The port served on when PORT is unset or empty.")

(defparameter +default-address+ "0.0.0.0"
  "The address bound when BIND_ADDRESS is unset or empty: every IPv4 interface, as a container or
Heroku dyno needs.")

(defconstant +default-shutdown-timeout+ 8
  "Seconds granted to requests in flight and the stop hook after SIGTERM when SHUTDOWN_TIMEOUT is
unset or empty.")

(define-condition config-error (error)
  ((variable :initarg :variable :reader config-error-variable)
   (value :initarg :value :reader config-error-value)
   (expected :initarg :expected :reader config-error-expected))
  (:report (lambda (c stream)
             (format stream "~A=~S is invalid: ~A"
                     (config-error-variable c) (config-error-value c) (config-error-expected c))))
  (:documentation "Signalled by READ-CONFIG when an environment variable is set to a value that
does not parse. Its report is one line naming the variable, its value and what is expected."))

(defstruct (config (:constructor make-config (port address swank-port shutdown-timeout)))
  "The runtime's settings, as read from the environment by READ-CONFIG."
  (port +default-port+ :type (integer 1 65535) :read-only t)
  (address +default-address+ :type string :read-only t)
  (swank-port nil :type (or null (integer 1 65535)) :read-only t)
  (shutdown-timeout +default-shutdown-timeout+ :type (integer 0 3600) :read-only t))

(setf (documentation 'config-port 'function) "The TCP port the app serves on (PORT)."
      (documentation 'config-address 'function) "The address the app binds (BIND_ADDRESS)."
      (documentation 'config-swank-port 'function)
      "The port Swank listens on at 127.0.0.1 (SWANK_PORT), or NIL for no Swank."
      (documentation 'config-shutdown-timeout 'function)
      "Seconds the stop function may take after SIGTERM before the process exits anyway.")

(defun parse-decimal (string)
  "STRING's value if it is one or more ASCII digits and nothing else, otherwise NIL."
  (when (and (plusp (length string)) (every (lambda (c) (char<= #\0 c #\9)) string))
    (parse-integer string)))

(defun ipv4-literal-p (string)
  "True when STRING is a dotted-quad IPv4 address such as 127.0.0.1."
  (let ((parts (uiop:split-string string :separator ".")))
    (and (= (length parts) 4)
         (every (lambda (part)
                  (let ((n (and (<= (length part) 3) (parse-decimal part))))
                    (and n (<= n 255))))
                parts))))

(defun ipv6-literal-p (string)
  "True when STRING looks like an IPv6 literal such as :: or ::1 (hex groups and colons, with an
optional embedded IPv4 tail); the socket layer has the last word on the rest."
  (and (find #\: string)
       (every (lambda (c) (or (digit-char-p c 16) (char= c #\:) (char= c #\.))) string)))

(defun invalid (variable value expected)
  "Signal a CONFIG-ERROR for VARIABLE set to VALUE, saying what was EXPECTED."
  (error 'config-error :variable variable :value value :expected expected))

(defun parse-port (variable value default)
  "VALUE (a non-empty string or NIL for unset) as a port number; DEFAULT when NIL."
  (let ((n (and value (parse-decimal value))))
    (cond ((null value) default)
          ((and n (<= 1 n 65535)) n)
          (t (invalid variable value
                      (format nil "give a port number, digits only, 1-65535~@[~A~]"
                              (and default (format nil ", or leave ~A unset for ~D"
                                                   variable default))))))))

(defun parse-address (value)
  "VALUE (a non-empty string or NIL for unset) as the address to bind."
  (cond ((null value) +default-address+)
        ((or (ipv4-literal-p value) (ipv6-literal-p value)) value)
        (t (invalid "BIND_ADDRESS" value
                    "give an IP address such as 0.0.0.0 or 127.0.0.1, not a host name"))))

(defun parse-timeout (value)
  "VALUE (a non-empty string or NIL for unset) as the shutdown timeout in seconds."
  (let ((n (and value (parse-decimal value))))
    (cond ((null value) +default-shutdown-timeout+)
          ((and n (<= n 3600)) n)
          (t (invalid "SHUTDOWN_TIMEOUT" value
                      (format nil "give whole seconds, 0-3600, or leave it unset for ~D"
                              +default-shutdown-timeout+))))))

(defun read-config (&key (getenv #'uiop:getenv))
  "Read PORT, BIND_ADDRESS, SWANK_PORT and SHUTDOWN_TIMEOUT through GETENV (a function from a
variable name to its value or NIL; the process environment by default) and return a CONFIG.
Unset and empty variables take the documented defaults; a malformed value signals CONFIG-ERROR."
  (flet ((value (name)
           (let ((v (funcall getenv name)))
             (if (and v (plusp (length v))) v nil))))
    (let ((port (parse-port "PORT" (value "PORT") +default-port+))
          (address (parse-address (value "BIND_ADDRESS")))
          (swank-port (parse-port "SWANK_PORT" (value "SWANK_PORT") nil))
          (timeout (parse-timeout (value "SHUTDOWN_TIMEOUT"))))
      (when (eql swank-port port)
        (invalid "SWANK_PORT" (value "SWANK_PORT")
                 "Swank needs a port of its own; pick one other than PORT"))
      (make-config port address swank-port timeout))))
