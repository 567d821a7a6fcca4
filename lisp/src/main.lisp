;;;; The production main: what every Lisp web app's entry point needs and the Cookbook leaves to
;;;; each user (find the server thread and join it, catch the interrupt, quit portably, read the
;;;; port, open Swank safely), done once.

(in-package #:lisp-deploy)

(defvar *start-swank-function* nil
  "A function of one argument, a port, that starts Swank on 127.0.0.1 at that port; or NIL when
this executable has no Swank. Loading the system \"lisp-deploy/swank\" sets it, so an app that
never asks for Swank never loads it.")

(defconstant +exit-failure+ 1
  "Exit status after a crash or a shutdown that ran out of time: systemd and Docker restart on it.")

(defconstant +exit-bad-config+ 2
  "Exit status when the environment does not parse: a unit may list it in
RestartPreventExitStatus= since restarting cannot fix it.")

(defun crash (condition)
  "Log CONDITION and the current backtrace as error lines and exit with +EXIT-FAILURE+."
  (ignore-errors
   (log-event :error "unhandled ~(~A~): ~A" (type-of condition) condition)
   (log-event :error "~A" (backtrace-string)))
  (exit-process +exit-failure+))

(defun start-swank (port)
  "Start Swank on 127.0.0.1:PORT through *START-SWANK-FUNCTION* and log how to reach it."
  (unless *start-swank-function*
    (log-event :error "SWANK_PORT=~D is set but this executable has no Swank: add ~
                       \"lisp-deploy/swank\" to the app's :depends-on, or unset SWANK_PORT" port)
    (exit-process +exit-bad-config+))
  (funcall *start-swank-function* port)
  (log-event :info "swank listening on 127.0.0.1:~D only; reach it through an SSH tunnel: ~
                    ssh -L ~D:127.0.0.1:~D <user>@~A" port port port (uiop:hostname)))

;;; One-off commands (a release's migration, a maintenance task) run from the same executable as the
;;; service, with its environment and secrets, the way Heroku's release phase and Fly's release_command
;;; run them: `blog migrate` runs the app's migrate function and exits with its outcome instead of serving.

(defun find-command (name commands)
  "The function COMMANDS (an alist of command name to function designator) gives NAME, or NIL."
  (cdr (assoc name commands :test #'string=)))

(defun eval-forms (text)
  "Read every form in TEXT in CL-USER and evaluate them in order."
  (let ((*package* (find-package '#:cl-user)))
    (with-input-from-string (in text)
      (loop with eof = '#:eof
            for form = (read in nil eof)
            until (eq form eof)
            do (eval form)))))

(defun eval-arguments (arguments name)
  "The texts of ARGUMENTS, which must be `--eval FORM` pairs as SBCL spells them; anything else logs the
usage and exits 2."
  (loop for (flag text) on arguments by #'cddr
        unless (and (string= flag "--eval") text)
          do (log-event :error "~A: expected --eval FORM [--eval FORM ...], got ~S" name arguments)
             (exit-process +exit-bad-config+)
        collect text))

(defun run-command (arguments commands name)
  "Run the command ARGUMENTS name (its first word) with the rest as its arguments, then exit: 0 when it
returns (whatever it returns: a migration returning a row count must not fail the release; a command
wanting another status calls UIOP:QUIT); 1 after an error, logged with its backtrace like a crash; 2 when
no such command exists (restarting cannot fix a wrong command line). `--eval FORM` (repeatable) reads
and evaluates Lisp forms in CL-USER instead."
  (destructuring-bind (command &rest rest) arguments
    (let ((function (find-command command commands)))
      (cond
        ((string= command "--eval")
         (let ((texts (eval-arguments arguments name)))
           (log-event :info "~A: evaluating ~D --eval argument~:P" name (length texts))
           (dolist (text texts) (eval-forms text))
           (exit-process 0)))
        (function
         (log-event :info "~A: running command ~A~@[ ~{~A~^ ~}~]" name command rest)
         (apply function rest)
         (log-event :info "~A: command ~A finished" name command)
         (exit-process 0))
        (t
         (log-event :error "~A: unknown command ~S; this executable knows ~:[none~;~:*~{~A~^, ~}~] and --eval FORM; ~
                            run it without arguments to serve"
                    name command (mapcar #'car commands))
         (exit-process +exit-bad-config+))))))

(defun main (&key start stop (name "app") commands)
  "Run a web app in the foreground as a production service, and never return.

START is a function (or function name) of one argument, the CONFIG read from the environment
(see READ-CONFIG); it must start serving on (CONFIG-ADDRESS config):(CONFIG-PORT config) and
return once the port listens (a server whose own start call blocks, such as Woo's RUN, is
started in a thread of START's making). Its value is handed to STOP.
STOP, optional, is a function of that value: stop accepting connections, let requests in flight
finish, then run the app's own stop hook.
NAME names the app in log lines.
COMMANDS, optional, is an alist of command name to function designator, e.g.
'((\"migrate\" . blog:migrate)). Started with arguments (`blog migrate`, a release command), the
executable runs that function with the remaining arguments as strings and exits instead of serving
(see RUN-COMMAND); `--eval FORM` (repeatable) evaluates Lisp forms the same way. Without arguments it serves.

Sequence (serving): read the configuration (a malformed variable logs one line and exits 2); install
SIGTERM and SIGINT handlers; start Swank when SWANK_PORT is set; call START; log the address and
send READY=1 to NOTIFY_SOCKET; wait for SIGTERM or SIGINT; send STOPPING=1; call STOP, waiting
at most SHUTDOWN_TIMEOUT seconds; exit 0, or 1 when STOP ran out of time. Any unhandled error, in
this thread or another, logs the error and its backtrace and exits 1, so systemd or Docker
restarts the service; the debugger is never entered."
  (check-type start (or function symbol))
  (install-crash-hook #'crash)
  (handler-bind ((serious-condition #'crash))
    ;; A command runs before the service's configuration and signal handlers: it needs no port, and
    ;; SIGTERM keeps SBCL's default (exit), so `systemctl stop` ends a stuck migration.
    (let ((arguments (uiop:command-line-arguments)))
      (when arguments (run-command arguments commands name)))
    (let ((config (handler-case (read-config)
                    (config-error (e)
                      (log-event :error "~A" e)
                      (exit-process +exit-bad-config+))))
          (shutdown (make-latch))
          (received nil))
      (install-signal-handlers
       (lambda (signal)
         (if received
             (log-event :warn "received ~A while already shutting down; still waiting" signal)
             (progn (setf received signal)
                    (open-latch shutdown)))))
      (when (config-swank-port config)
        (start-swank (config-swank-port config)))
      (let ((server (funcall start config)))
        (log-event :info "~A listening on ~A:~D" name (config-address config) (config-port config))
        (sd-notify "READY=1")
        (wait-on-latch shutdown)
        (log-event :info "received ~A; stopping ~A (up to ~Ds for requests in flight)"
                   received name (config-shutdown-timeout config))
        (sd-notify "STOPPING=1")
        (case (if stop
                  (call-with-deadline (config-shutdown-timeout config)
                                      (lambda () (funcall stop server)))
                  :done)
          (:done
           (log-event :info "~A stopped cleanly" name)
           (exit-process 0))
          (:timeout
           (log-event :error "~A did not stop within ~Ds (SHUTDOWN_TIMEOUT); exiting with ~
                              requests still in flight" name (config-shutdown-timeout config))
           (exit-process +exit-failure+)))))))
