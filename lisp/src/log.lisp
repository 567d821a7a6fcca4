;;;; Log lines for journald and `docker logs`: plain text, one event a line, no timestamps (the
;;;; collector adds them). Informational events go to standard output, warnings and errors to
;;;; standard error, so a unit's or container's stderr shows only what needs attention.

(in-package #:lisp-deploy)

(defun log-event (level control &rest arguments)
  "Write one log event: LEVEL (:INFO, :WARN or :ERROR) and a message made by FORMAT from
CONTROL and ARGUMENTS. The line reads `lisp-deploy <level>: <message>`. A message spanning
several lines (a backtrace) is written as several lines, each with the same prefix, so every
line still says where it came from. :INFO goes to *STANDARD-OUTPUT*, the others to
*ERROR-OUTPUT*; the stream is flushed at once so nothing is lost if the process dies next."
  (let* ((stream (if (eq level :info) *standard-output* *error-output*))
         (prefix (format nil "lisp-deploy ~(~A~): " level))
         (message (apply #'format nil control arguments))
         (text (with-output-to-string (out)
                 (with-input-from-string (in message)
                   (loop for line = (read-line in nil)
                         while line
                         do (write-string prefix out)
                            (write-string (string-right-trim '(#\Return) line) out)
                            (terpri out))))))
    (call-with-log-lock
     (lambda ()
       (write-string text stream)
       (finish-output stream)))
    nil))
