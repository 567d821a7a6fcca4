;;;; Everything specific to SBCL lives in this file: saving the dependencies core and the executable.
;;;; A port to another implementation replaces only this file.

(in-package #:lisp-deploy-build)

;;; Optimization notes from compiling libraries bury the build's real messages (warnings, errors) in
;;; thousands of lines; warnings and errors are still printed.
(proclaim '(sb-ext:muffle-conditions sb-ext:compiler-note))

(defun save-dependencies-core (path)
  "Save the running image, with every dependency loaded, as a core file at PATH (not an executable:
the build stage starts SBCL on it with --core). Never returns."
  (note "saving ~A" path)
  (sb-ext:save-lisp-and-die path :executable nil))

(defun c-string-array (strings)
  "A freshly allocated NULL-terminated C array of copies of STRINGS (for execve)."
  (let ((array (sb-alien:make-alien sb-alien:c-string (1+ (length strings)))))
    (loop for string in strings
          for i from 0
          do (setf (sb-alien:deref array i) string))
    (setf (sb-alien:deref array (length strings)) nil)
    array))

(defun restart-with-environment (environment)
  "Replace this process (same pid, same executable, same arguments) with a fresh start whose whole
environment is ENVIRONMENT, a list of NAME=VALUE strings. Returns only by signalling an error.
A fresh start rather than setenv: the app, its C libraries and its children then see exactly what a
shell's `set -a; . file; exec app` gave them, from the first instruction on."
  (let ((status (sb-alien:alien-funcall
                 (sb-alien:extern-alien "execve" (function sb-alien:int sb-alien:c-string
                                                           (* sb-alien:c-string) (* sb-alien:c-string)))
                 (sb-ext:native-namestring sb-ext:*runtime-pathname*)
                 (c-string-array sb-ext:*posix-argv*)
                 (c-string-array environment))))
    (error "Cannot restart ~A with the secret environment (execve returned ~D, errno ~D)."
           sb-ext:*runtime-pathname* status (sb-alien:get-errno))))

(defun load-environment-file ()
  "When LISP_DEPLOY_ENV_FILE names a file, start afresh with the variables it assigns (see
parse-environment-file) added to the environment and LISP_DEPLOY_ENV_FILE itself removed, so the second
start goes on to the app. What a shell's `set -a; . file; exec` did, done by the executable itself: the
runtime image has no shell."
  (let ((file (sb-ext:posix-getenv *environment-file-variable*)))
    (when (and file (plusp (length file)))
      (let* ((text (handler-case (uiop:read-file-string file :external-format :utf-8)
                     (error (e)
                       (error "Cannot read the environment file ~A=~A: ~A" *environment-file-variable* file e))))
             ;; A name given twice: the last assignment wins, as in a shell.
             (assignments (remove-duplicates (parse-environment-file text) :key #'car :test #'string=))
             (replaced (cons *environment-file-variable* (mapcar #'car assignments))))
        (restart-with-environment
         (append (remove-if (lambda (entry)
                              (let ((sign (position #\= entry)))
                                (and sign (member (subseq entry 0 sign) replaced :test #'string=))))
                            (sb-ext:posix-environ))
                 (loop for (name . value) in assignments
                       collect (concatenate 'string name "=" value))))))))

(defun executable-toplevel (entry-point)
  "The function the executable runs at start: no debugger (an unhandled error prints and exits non-zero
instead of waiting for input nobody will type), the secret environment file if a release gave one, UIOP's
restore hooks, then ENTRY-POINT; exit 0 when it returns."
  (lambda ()
    (sb-ext:disable-debugger)
    (setf uiop:*image-dumped-p* :executable)
    (load-environment-file)
    (uiop:call-functions uiop:*image-restore-hook*)
    (funcall entry-point)
    (uiop:quit 0)))

(defun threads-blocking-the-dump ()
  "The threads other than this one that would stop save-lisp-and-die (SBCL's own ephemeral threads, such
as the finalizer, it stops itself)."
  (remove-if (lambda (thread)
               (or (eq thread sb-thread:*current-thread*)
                   (sb-thread:thread-ephemeral-p thread)
                   (not (sb-thread:thread-alive-p thread))))
             (sb-thread:list-all-threads)))

(defun check-no-threads-running ()
  "Signal an error naming every thread still running, and how to stop it, when the image cannot be saved.
SBCL's own message (\"Cannot save core with multiple threads running\") names neither the threads nor the cause:
a library that starts a thread when it is loaded (a scheduler, a connection pool, a server started at
top level). A thread that is just ending gets a second to do so."
  (let ((threads (threads-blocking-the-dump)))
    (when threads
      (sleep 1)
      (setf threads (threads-blocking-the-dump)))
    (when threads
      (error "The executable cannot be saved: ~D thread~:P besides the main one ~:*~[~;is~:;are~] running ~
              after the system was loaded: ~{~S~^, ~}.~%~
              Something started ~[~;it~:;them~] at load time (a library's top-level form, or the app's own). ~
              Start threads from the entry point instead, or stop them before the dump: ~
              (push (lambda () <stop the threads, e.g. bt:destroy-thread or the library's stop function>) ~
              uiop:*image-dump-hook*) in a file the system loads; the build runs that hook before saving."
             (length threads) (mapcar #'sb-thread:thread-name threads) (length threads)))))

(defun save-executable (path entry-point &key compression)
  "Save the running image as a standalone executable at PATH that calls ENTRY-POINT (a function
designator). COMPRESSION compresses the core (smaller file, slightly slower start); it needs an SBCL
built with :sb-core-compression. Never returns."
  (when (and compression (not (member :sb-core-compression *features*)))
    (error "Core compression was asked for, but this SBCL was built without :sb-core-compression; ~
            turn compression off or use an SBCL that has it."))
  (let ((objects (mapcar #'sb-alien::shared-object-namestring sb-alien::*shared-objects*)))
    ;; The runtime stage checks these are present, so a missing foreign library fails the build, not the start.
    (with-open-file (out (make-pathname :name "shared-objects" :type "txt" :defaults path)
                         :direction :output :if-exists :supersede)
      (format out "~{~A~%~}" objects))
    (note "the executable opens these shared libraries at start: ~:[none~;~:*~{~A~^ ~}~]" objects))
  (uiop:call-functions uiop:*image-dump-hook*)
  (check-no-threads-running)
  (note "saving ~A (compression ~:[off~;on~], dynamic space ~D MB, saved as the executable's default)"
        path compression (floor (sb-ext:dynamic-space-size) (* 1024 1024)))
  (sb-ext:save-lisp-and-die path
                            :executable t
                            :toplevel (executable-toplevel entry-point)
                            ;; The app owns its command line: the SBCL runtime must not parse --help etc.
                            ;; It also keeps this process's --dynamic-space-size (the build passes the
                            ;; app's dynamicSpaceSize) as the executable's own heap limit.
                            :save-runtime-options t
                            :compression (and compression t)))
