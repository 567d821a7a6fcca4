;;;; Shared by every build stage script: reading the stage's settings from the environment, telling
;;;; ASDF where sources are, and the one rule of the build: any failure prints the Lisp condition
;;;; (and a backtrace) and exits 1, so `docker build` stops with the real error instead of a hung debugger.
;;;; Portable Common Lisp plus UIOP; everything implementation-specific is in sbcl.lisp.

(require "asdf")

(defpackage #:lisp-deploy-build
  (:use #:cl)
  (:export #:with-build-errors-reported #:setting #:setting-list #:register-source-trees
           #:read-dependency-list #:load-dependencies #:note #:parse-environment-file
           #:*environment-file-variable*))

(in-package #:lisp-deploy-build)

(defun note (control &rest args)
  "Print one progress line of the build, prefixed so it stands out in `docker build` output."
  (format t "~&lisp-deploy: ~?~%" control args)
  (finish-output))

(defun call-with-build-errors-reported (step thunk)
  "Call THUNK; on any serious condition print STEP, the condition and a backtrace to stderr and exit 1.
The handler runs before any debugger could, so a build never waits for input."
  (handler-bind ((serious-condition
                   (lambda (condition)
                     (format *error-output* "~&lisp-deploy: ~A failed:~%~A~%" step condition)
                     (ignore-errors (uiop:print-condition-backtrace condition :stream *error-output* :count 30))
                     (finish-output *error-output*)
                     (uiop:quit 1))))
    (funcall thunk)))

(defmacro with-build-errors-reported ((step) &body body)
  "Run BODY; any error or other serious condition is printed and the process exits 1. STEP names the
step in the message (e.g. \"loading the dependencies\")."
  `(call-with-build-errors-reported ,step (lambda () ,@body)))

(defun setting (name &optional default)
  "The value of environment variable NAME, or DEFAULT when it is unset or empty; an error when there is
neither, so a stage never runs with a silently missing setting."
  (let ((value (uiop:getenv name)))
    (cond ((and value (plusp (length value))) value)
          (default default)
          (t (error "The build setting ~A is not set (the Dockerfile passes it to this script)." name)))))

(defun setting-list (name)
  "Environment variable NAME split on colons, without empty entries."
  (remove "" (uiop:split-string (setting name "") :separator ":") :test #'string=))

(defun register-source-trees (directories)
  "Make ASDF find systems anywhere under DIRECTORIES, in addition to its default places (Debian's
/usr/share/common-lisp among them)."
  (asdf:initialize-source-registry
   `(:source-registry
     ,@(loop for dir in directories
             collect `(:tree ,(uiop:ensure-directory-pathname dir)))
     :inherit-configuration))
  (note "ASDF finds systems under ~{~A~^, ~} and its default places" directories))

(defun read-dependency-list (file)
  "Read the generated dependency list FILE: one `system NAME` or `require NAME` line each, sorted.
Returns (values systems modules)."
  (let ((systems '()) (modules '()))
    (with-open-file (in file)
      (loop for line = (read-line in nil)
            while line
            do (let* ((line (string-trim '(#\Space #\Tab #\Return) line))
                      (space (position #\Space line)))
                 (cond ((zerop (length line)))
                       ((null space) (error "Malformed line in ~A: ~S" file line))
                       ((string= (subseq line 0 space) "system") (push (subseq line (1+ space)) systems))
                       ((string= (subseq line 0 space) "require") (push (subseq line (1+ space)) modules))
                       (t (error "Unknown entry kind in ~A: ~S" file line))))))
    (values (nreverse systems) (nreverse modules))))

(defun load-dependencies (systems modules)
  "Load implementation MODULES with REQUIRE, then SYSTEMS: through Quicklisp when a Quicklisp or qlot
setup was loaded (it downloads what is missing), otherwise with plain ASDF."
  (dolist (module modules)
    (note "require ~A" module)
    (require module))
  (let ((quickload (and (find-package "QL") (find-symbol "QUICKLOAD" "QL"))))
    (dolist (system systems)
      (note "loading ~A~:[~; with Quicklisp~]" system quickload)
      (if quickload
          (funcall quickload system :silent t)
          (asdf:load-system system)))))

;;; The secret environment file. A release that must not put secrets in the container's configuration
;;; (where `docker inspect` shows them) uploads them as a 0400 file and names it in LISP_DEPLOY_ENV_FILE; the
;;; executable reads it itself before the entry point runs, so the runtime image needs no shell to source it.

(defparameter *environment-file-variable* "LISP_DEPLOY_ENV_FILE"
  "The environment variable naming the file of secret variables the executable reads at start.")

(defun parse-environment-file (text)
  "Parse TEXT, lines of NAME=VALUE in the shell's quoting (what a release writes: each value in single
quotes, a quote inside written '\\''), into an alist of (name . value) in file order. Blank lines and
lines starting with # are skipped; a line without = is an error naming its number, so a damaged file
stops the start instead of leaving a variable silently unset."
  (let ((i 0) (n (length text)) (line 1) (result '()))
    (labels ((peek () (and (< i n) (char text i)))
             (next () (prog1 (char text i) (when (char= (char text i) #\Newline) (incf line)) (incf i)))
             (skip-line () (loop while (and (peek) (char/= (peek) #\Newline)) do (next)) (when (peek) (next))))
      (loop while (< i n) do
        (cond ((member (peek) '(#\Newline #\Space #\Tab)) (next))
              ((char= (peek) #\#) (skip-line))
              (t
               (let ((start i) (start-line line))
                 (loop while (and (peek) (not (member (peek) '(#\= #\Newline)))) do (next))
                 (unless (eql (peek) #\=)
                   (error "~A line ~D has no NAME=VALUE assignment." *environment-file-variable* start-line))
                 (let ((name (string-trim " " (subseq text start i)))
                       (value (make-string-output-stream)))
                   (next)                   ; the =
                   (loop for c = (peek)
                         while (and c (char/= c #\Newline))
                         do (cond ((char= c #\')
                                   (next)
                                   (loop for d = (peek)
                                         do (cond ((null d)
                                                   (error "~A line ~D: a quote is not closed." *environment-file-variable* start-line))
                                                  ((char= d #\') (next) (return))
                                                  (t (write-char (next) value)))))
                                  ((char= c #\\) (next) (when (peek) (write-char (next) value)))
                                  (t (write-char (next) value))))
                   (push (cons name (get-output-stream-string value)) result)))))))
    (nreverse result)))
