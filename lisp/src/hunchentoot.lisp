;;;; Hunchentoot under lisp-deploy's main: an acceptor built from the environment's configuration,
;;;; and a stop that answers everything the acceptor (or the kernel, for it) already accepted.
;;;;
;;;; Hunchentoot's own stop sets one flag that both its accept loop and its connection loop read,
;;;; closes the listener (resetting every connection still queued on it) and returns once the
;;;; requests in flight are done, so the process exits under connections it accepted but has not
;;;; read a request from yet; and PROCESS-CONNECTION, checking the flag before reading each request,
;;;; closes such a connection unanswered. Under a restart those are requests clients already sent.
;;;; GRACEFUL-ACCEPTOR never sets that flag; it drains instead:
;;;;   1. every response from now on says `Connection: close`, so no client reuses a connection
;;;;      the process is about to close (the keep-alive race is left to connections already idle);
;;;;   2. the listener stops taking new handshakes (SYNs are dropped: see REFUSE-NEW-HANDSHAKES in
;;;;      sbcl.lisp), accepts every connection the kernel queued or is completing, then closes:
;;;;      none queued is reset, and later connects are refused (a proxy or client goes elsewhere);
;;;;   3. each connection accepted is answered: one that has not sent its request yet has
;;;;      FIRST-REQUEST-GRACE seconds from the stop to send it; a request in flight finishes;
;;;;   4. kept-alive connections idle in between requests are closed once nothing else is left.

(defpackage #:lisp-deploy/hunchentoot
  (:use #:cl)
  (:export #:main #:start-acceptor #:stop-acceptor
           #:graceful-acceptor #:graceful-easy-acceptor))

(in-package #:lisp-deploy/hunchentoot)

;;; Hunchentoot internals this file relies on, in one place. Hunchentoot exports no reader for
;;; them; its own stop and accept loop use the same ones.
(defun listen-socket (acceptor) (hunchentoot::acceptor-listen-socket acceptor))
(defun (setf listen-socket) (socket acceptor)
  (setf (hunchentoot::acceptor-listen-socket acceptor) socket))
(defun requests-in-progress (acceptor)
  "How many requests ACCEPTOR is processing right now (a fixnum read: no lock for a poll)."
  (hunchentoot::accessor-requests-in-progress acceptor))
(defun taskmaster (acceptor) (hunchentoot::acceptor-taskmaster acceptor))
(defun apply-connection-timeouts (acceptor connection)
  "Give CONNECTION ACCEPTOR's read and write timeouts, as Hunchentoot's accept loop does."
  (hunchentoot::set-timeouts connection (hunchentoot:acceptor-read-timeout acceptor)
                             (hunchentoot:acceptor-write-timeout acceptor)))

(defstruct (connection (:constructor make-connection (socket)))
  "One accepted connection as the graceful stop sees it."
  socket
  ;; :new (no request read yet), :busy (a request is being answered) or :idle (answered, the
  ;; client may send another); written only by the connection's own thread.
  (state :new)
  ;; Set once a worker thread serves it. The listener records a connection before handing it on,
  ;; so the stop never misses one whose thread has not started yet.
  (claimed nil)
  ;; Set once the stop has shut the socket down, so it is shut down only once.
  (closing nil))

(defvar *connection* nil "The connection the current thread serves, bound by PROCESS-CONNECTION.")

(defclass graceful-acceptor ()
  ((draining :initform nil :accessor draining-p
             :documentation "True once STOP-ACCEPTOR began: stop accepting, answer what was accepted.")
   (connections :initform '() :accessor acceptor-connections)
   (connections-lock :initform (bt:make-lock "lisp-deploy connections") :reader connections-lock)
   (first-request-grace
    :initarg :first-request-grace :initform 5 :reader acceptor-first-request-grace
    :documentation "Seconds from the stop that a connection accepted but still silent has to send
its request before it is closed. A proxy or client writes its request at once; this bounds the
wait for one that never does (a browser's preconnect, a port probe). Go's net/http Shutdown
waits the same 5 seconds for such connections."))
  (:documentation "Mix into a Hunchentoot acceptor class, before it, to make STOP-ACCEPTOR answer
everything accepted: see this file's header. GRACEFUL-EASY-ACCEPTOR is EASY-ACCEPTOR with it."))

(defclass graceful-easy-acceptor (graceful-acceptor hunchentoot:easy-acceptor) ()
  (:documentation "Hunchentoot's EASY-ACCEPTOR with GRACEFUL-ACCEPTOR's stop: the default class of
START-ACCEPTOR and MAIN."))

;;; Connection bookkeeping: which connections exist and what each is doing.

(defun remember (acceptor socket)
  "Record SOCKET as one of ACCEPTOR's connections and return its record."
  (let ((connection (make-connection socket)))
    (bt:with-lock-held ((connections-lock acceptor))
      (push connection (acceptor-connections acceptor)))
    connection))

(defun forget (acceptor connection)
  "Drop CONNECTION's record: it is answered and closed, or will never be served here."
  (bt:with-lock-held ((connections-lock acceptor))
    (setf (acceptor-connections acceptor) (delete connection (acceptor-connections acceptor)))))

(defmethod hunchentoot:process-connection :around ((acceptor graceful-acceptor) socket)
  (let ((connection (or (bt:with-lock-held ((connections-lock acceptor))
                          (find socket (acceptor-connections acceptor) :key #'connection-socket))
                        (remember acceptor socket))))
    (setf (connection-claimed connection) t)
    (unwind-protect (let ((*connection* connection)) (call-next-method))
      (forget acceptor connection))))

(defmethod hunchentoot:handle-request :around ((acceptor graceful-acceptor) request)
  (declare (ignore request))
  (when *connection* (setf (connection-state *connection*) :busy))
  (call-next-method))

(defmethod hunchentoot:reset-connection-stream :after ((acceptor graceful-acceptor) stream)
  ;; Hunchentoot calls this once the response is flushed: only now may the stop close the
  ;; connection without cutting the response short.
  (declare (ignore stream))
  (when *connection* (setf (connection-state *connection*) :idle)))

(defmethod hunchentoot:acceptor-persistent-connections-p ((acceptor graceful-acceptor))
  ;; Once draining, every response says `Connection: close` and ends its connection: a client
  ;; reads that before it could send another request, so it never races the close.
  (and (not (draining-p acceptor)) (call-next-method)))

;;; The listener: accept until the stop, then take what the kernel queued and close.

(defconstant +handshake-settle-seconds+ 0.1
  "How long the accept queue must stay empty, once new SYNs are refused, before the listener
closes: a handshake already under way completes within one round trip, microseconds on the host
a proxy runs on, milliseconds across a data centre.")

(defun seconds-since (internal-time)
  (/ (- (get-internal-real-time) internal-time) internal-time-units-per-second))

(defun accept-one (acceptor listener)
  "Accept one connection from LISTENER and hand it to ACCEPTOR's taskmaster."
  (let ((socket (handler-case (usocket:socket-accept listener)
                  ;; The client gave up between the kernel's queue and here: nothing to answer.
                  (usocket:connection-aborted-error () nil))))
    (when socket
      (apply-connection-timeouts acceptor socket)
      (remember acceptor socket)
      (hunchentoot:handle-incoming-connection (taskmaster acceptor) socket))))

(defun take-what-is-queued (acceptor listener)
  "Accept every connection the kernel has queued on LISTENER (or is completing) and return how
many, refusing new handshakes meanwhile when the system allows it.
The kernel completed these handshakes on the app's behalf, and their clients may have sent a
request already: closing the listener would reset them. New SYNs are dropped first (their clients
retry in about a second and meet the closed port, or the next process), so the queue emptied here
stays empty; handshakes already under way complete within a round trip, so the queue is empty for
good once it has stayed empty for +HANDSHAKE-SETTLE-SECONDS+. Without the filter (not Linux, or a
kernel refusing it to an unprivileged process) the queue can refill for ever under load: the loop
then polls without waiting and ends the first moment the queue is empty."
  (multiple-value-bind (refusing why-not)
      (lisp-deploy::refuse-new-handshakes (usocket:socket listener))
    (loop with accepted = 0
          with quiet-since = (get-internal-real-time)
          do (cond ((usocket:wait-for-input listener :ready-only t :timeout (if refusing 0.01 0))
                    (accept-one acceptor listener)
                    (incf accepted)
                    (setf quiet-since (get-internal-real-time)))
                   ((or (not refusing)
                        (>= (seconds-since quiet-since) +handshake-settle-seconds+))
                    (lisp-deploy:log-event :info "stopped accepting connections after taking the ~D ~
                                                  already queued~@[ (new ones could not be refused ~
                                                  while the queue drained: ~A)~]" accepted why-not)
                    (return accepted))))))

(defmethod hunchentoot:accept-connections ((acceptor graceful-acceptor))
  (let ((listener (listen-socket acceptor)))
    (unwind-protect
         (progn
           (loop until (draining-p acceptor)
                 when (usocket:wait-for-input listener :ready-only t)
                   do (accept-one acceptor listener))
           (take-what-is-queued acceptor listener))
      (usocket:socket-close listener)
      (setf (listen-socket acceptor) nil))))

(defun wake-listener (acceptor)
  "Connect to ACCEPTOR's listener once, so its thread, waiting for a connection, sees the stop.
The connection closes at once; the listener accepts it like any other and its worker reads EOF."
  (handler-case
      (multiple-value-bind (address port) (usocket:get-local-name (listen-socket acceptor))
        (usocket:socket-close (usocket:socket-connect address port)))
    ;; The listener is already closed, or the stop raced it: it is waking up anyway.
    (error () nil)))

;;; The stop.

(defun shut-down (connection)
  "Shut CONNECTION's socket down both ways: its thread, waiting for a request, reads EOF and ends."
  (setf (connection-closing connection) t)
  (ignore-errors (usocket:socket-shutdown (connection-socket connection) :io)))

(defun close-what-has-nothing-to-answer (acceptor connections seconds-stopping)
  "Shut down those of CONNECTIONS the stop no longer waits for, SECONDS-STOPPING into it: new ones
still silent after the grace, and, once no request is in flight and no new connection may still
send one, the idle ones."
  (let* ((grace-over (>= seconds-stopping (acceptor-first-request-grace acceptor)))
         (quiet (and (or grace-over (notany (lambda (c) (eq (connection-state c) :new)) connections))
                     (notany (lambda (c) (eq (connection-state c) :busy)) connections)
                     (zerop (requests-in-progress acceptor)))))
    (dolist (connection connections)
      (cond ((and grace-over (not (connection-claimed connection)))
             ;; No thread ever took it: the taskmaster answered 503 (too many connections) or
             ;; failed to start a thread, and closed it either way.
             (forget acceptor connection))
            ((connection-closing connection))
            ((eq (connection-state connection) :new)
             (when grace-over (shut-down connection)))
            ((eq (connection-state connection) :idle)
             (when quiet (shut-down connection)))))))

(defun drain (acceptor)
  "GRACEFUL-ACCEPTOR's stop: see this file's header."
  (let ((started (get-internal-real-time)))
    (setf (draining-p acceptor) t)
    ;; In a thread of its own: when the listener woke by itself and already refuses new
    ;; handshakes, this connect waits for its SYN's retry, which must not delay the stop.
    (bt:make-thread (lambda () (wake-listener acceptor)) :name "lisp-deploy wake listener")
    (loop while (listen-socket acceptor) do (sleep 0.01))
    (loop for connections = (bt:with-lock-held ((connections-lock acceptor))
                              (copy-list (acceptor-connections acceptor)))
          while connections
          do (close-what-has-nothing-to-answer acceptor connections (seconds-since started))
             (sleep 0.02))))

(defun stop-acceptor (acceptor)
  "Stop ACCEPTOR and return once everything it accepted is answered.
A GRACEFUL-ACCEPTOR stops accepting, takes the connections the kernel already queued, and answers
every request it has read or that a connection accepted before the stop sends within its
FIRST-REQUEST-GRACE, each with `Connection: close`; kept-alive connections left idle are closed last.
Any other acceptor gets Hunchentoot's soft stop, which closes connections whose request is not read
yet, and resets those still queued; its requests in flight are waited for here, since that stop
returns when the first of several finishes. lisp-deploy's main bounds the wait by SHUTDOWN_TIMEOUT."
  (if (typep acceptor 'graceful-acceptor)
      (drain acceptor)
      (progn
        (hunchentoot:stop acceptor :soft t)
        (loop while (plusp (requests-in-progress acceptor))
              do (sleep 0.05))))
  acceptor)

(defun start-acceptor (config &key (class 'graceful-easy-acceptor) initargs)
  "Make an acceptor of CLASS listening on CONFIG's address and port, start it and return it.
INITARGS are extra initargs for CLASS and win over the defaults here. The access log goes to
standard output (one line a request); Hunchentoot's messages keep going to standard error.
A CLASS that does not include GRACEFUL-ACCEPTOR still works, with Hunchentoot's own stop (a
warning at start says what that loses)."
  (unless (subtypep class 'graceful-acceptor)
    (lisp-deploy:log-event :warn "acceptor class ~(~S~) does not include ~
                                  lisp-deploy/hunchentoot:graceful-acceptor: on SIGTERM, connections ~
                                  accepted but not read yet will be closed unanswered" class))
  (hunchentoot:start
   (apply #'make-instance class
          (append initargs
                  (list :port (lisp-deploy:config-port config)
                        :address (lisp-deploy:config-address config)
                        :access-log-destination *standard-output*)))))

(defun main (&key (name "app") (acceptor-class 'graceful-easy-acceptor) acceptor-initargs
               on-start on-stop commands)
  "Serve a Hunchentoot app in the foreground through LISP-DEPLOY:MAIN, and never return.
NAME names the app in log lines. ACCEPTOR-CLASS and ACCEPTOR-INITARGS make the acceptor (see
START-ACCEPTOR); PORT and BIND_ADDRESS from the environment give its port and address.
ON-START, optional, is called with the started acceptor (open a database pool, warm a cache);
ON-STOP, optional, is called with no arguments after the last connection was answered (close
what ON-START opened). COMMANDS names the app's one-off commands, such as a release's migration
(see LISP-DEPLOY:MAIN): started with arguments, the executable runs one and exits instead of serving."
  (lisp-deploy:main
   :name name
   :commands commands
   :start (lambda (config)
            (let ((acceptor (start-acceptor config :class acceptor-class
                                                   :initargs acceptor-initargs)))
              (when on-start (funcall on-start acceptor))
              acceptor))
   :stop (lambda (acceptor)
           (stop-acceptor acceptor)
           (when on-stop (funcall on-stop)))))
