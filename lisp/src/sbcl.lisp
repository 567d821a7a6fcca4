;;;; Everything implementation-specific in the runtime, for SBCL: signals, a Unix datagram
;;;; socket, threads with a deadline, backtraces and leaving the process. The rest of the runtime
;;;; calls only the functions here, so porting it means rewriting this one file.

(in-package #:lisp-deploy)

#-sbcl
(error "lisp-deploy's runtime supports SBCL only; port src/sbcl.lisp to run on ~A."
       (lisp-implementation-type))

(defun install-signal-handlers (handler)
  "Make SIGTERM and SIGINT call HANDLER with the signal's name (\"SIGTERM\" or \"SIGINT\").
SBCL's own handlers would exit at once (SIGTERM) or enter the debugger (SIGINT); both would
cut requests in flight."
  (flet ((install (signal name)
           (sb-sys:enable-interrupt
            signal
            (lambda (signo info context)
              (declare (ignore signo info context))
              (funcall handler name)))))
    (install sb-posix:sigterm "SIGTERM")
    (install sb-posix:sigint "SIGINT")))

(defun make-latch ()
  "A one-shot event one thread waits on and any thread (or a signal handler) opens."
  (sb-thread:make-semaphore :name "lisp-deploy shutdown" :count 0))

(defun open-latch (latch)
  "Wake whoever waits on LATCH."
  (sb-thread:signal-semaphore latch))

(defun wait-on-latch (latch)
  "Block the calling thread until LATCH is opened."
  (sb-thread:wait-on-semaphore latch))

(defun call-with-deadline (seconds function)
  "Call FUNCTION in a new thread and wait at most SECONDS for it to return.
Return :DONE when it returned in time, :TIMEOUT otherwise. An error in FUNCTION is not caught
here: it reaches the crash hook in its own thread, so its backtrace is the one that matters."
  (let ((thread (sb-thread:make-thread (lambda () (funcall function) :done)
                                       :name "lisp-deploy stop")))
    (if (eq (sb-thread:join-thread thread :timeout seconds :default :timeout) :done)
        :done
        :timeout)))

(defun send-unix-datagram (address message)
  "Send the string MESSAGE as one datagram to the Unix socket ADDRESS.
An ADDRESS starting with @ names a socket in Linux's abstract namespace (systemd's convention)."
  (let* ((abstract (and (plusp (length address)) (char= (char address 0) #\@)))
         (socket (make-instance (if abstract
                                    'sb-bsd-sockets:local-abstract-socket
                                    'sb-bsd-sockets:local-socket)
                                :type :datagram))
         (octets (sb-ext:string-to-octets message :external-format :utf-8)))
    (unwind-protect
         (progn
           (sb-bsd-sockets:socket-connect socket (if abstract (subseq address 1) address))
           (sb-bsd-sockets:socket-send socket octets (length octets)))
      (sb-bsd-sockets:socket-close socket))))

(defun install-crash-hook (hook)
  "Make any error that would enter the debugger, in any thread, call HOOK with the condition
instead. HOOK must not return (it exits the process)."
  (setf sb-ext:*invoke-debugger-hook*
        (lambda (condition previous-hook)
          (declare (ignore previous-hook))
          (funcall hook condition))))

(defun backtrace-string ()
  "The current thread's backtrace, one frame a line."
  (with-output-to-string (out)
    (sb-debug:print-backtrace :stream out :count 40)))

(defun exit-process (code)
  "Flush standard output and error, then end the process with exit CODE at once, without
waiting for other threads: by now the graceful part of shutdown has run or timed out."
  (ignore-errors (finish-output *standard-output*))
  (ignore-errors (finish-output *error-output*))
  (sb-ext:exit :code code :abort t))

(defvar *log-lock* (sb-thread:make-mutex :name "lisp-deploy log")
  "Serialises log writes so lines from different threads never interleave.")

(defun call-with-log-lock (function)
  "Call FUNCTION while holding the log lock."
  (sb-thread:with-recursive-lock (*log-lock*) (funcall function)))

;;; Refusing new TCP handshakes on a listening socket while the ones under way complete: the
;;; graceful stop of lisp-deploy/hunchentoot drains the accept queue with this in place, so the
;;; queue it empties cannot fill again behind its back.

(sb-alien:define-alien-type nil
    (sb-alien:struct sock-filter          ; linux/filter.h: one classic BPF instruction
                     (code (sb-alien:unsigned 16)) (jt (sb-alien:unsigned 8))
                     (jf (sb-alien:unsigned 8)) (k (sb-alien:unsigned 32))))

(sb-alien:define-alien-type nil
    (sb-alien:struct sock-fprog
                     (len (sb-alien:unsigned 16)) (filter (* (sb-alien:struct sock-filter)))))

(defconstant +sol-socket+ 1)
(defconstant +so-attach-filter+ 26)

(defun refuse-new-handshakes (socket)
  "Make the listening sb-bsd-sockets SOCKET drop every incoming TCP segment with SYN set, and
nothing else. A client's new connection then gets no answer (its kernel retries the SYN after
about a second, by when the port is closed and refuses it, or a new process accepts it), while a
handshake already under way still completes into the accept queue, since its last segment is an
ACK. Linux only (SO_ATTACH_FILTER); returns true when the filter is in place, else NIL and
the system's reason."
  (let ((program '((#x30 0 0 13)             ; ldb [13]: the TCP flags (the filter sees the TCP header)
                   (#x45 0 1 #x02)           ; jset #SYN: next instruction, else skip it
                   (#x06 0 0 0)              ; ret #0: drop
                   (#x06 0 0 #xffffffff))))  ; ret #-1: keep the whole segment
    (sb-alien:with-alien ((filter (array (sb-alien:struct sock-filter) 4))
                          (fprog (sb-alien:struct sock-fprog)))
      (loop for (code jt jf k) in program
            for i from 0
            for instruction = (sb-alien:deref filter i)
            do (setf (sb-alien:slot instruction 'code) code
                     (sb-alien:slot instruction 'jt) jt
                     (sb-alien:slot instruction 'jf) jf
                     (sb-alien:slot instruction 'k) k))
      (setf (sb-alien:slot fprog 'len) (length program)
            (sb-alien:slot fprog 'filter) (sb-alien:cast filter (* (sb-alien:struct sock-filter))))
      (if (zerop (sb-alien:alien-funcall
              (sb-alien:extern-alien "setsockopt"
                                     (function sb-alien:int sb-alien:int sb-alien:int sb-alien:int
                                               (* (sb-alien:struct sock-fprog)) sb-alien:unsigned))
              (sb-bsd-sockets:socket-file-descriptor socket) +sol-socket+ +so-attach-filter+
              (sb-alien:addr fprog) (sb-alien:alien-size (sb-alien:struct sock-fprog) :bytes)))
          t
          (values nil (sb-int:strerror (sb-alien:get-errno)))))))
