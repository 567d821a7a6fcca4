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

(defun executable-toplevel (entry-point)
  "The function the executable runs at start: no debugger (an unhandled error prints and exits non-zero
instead of waiting for input nobody will type), UIOP's restore hooks, then ENTRY-POINT; exit 0 when it returns."
  (lambda ()
    (sb-ext:disable-debugger)
    (setf uiop:*image-dumped-p* :executable)
    (uiop:call-functions uiop:*image-restore-hook*)
    (funcall entry-point)
    (uiop:quit 0)))

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
  (note "saving ~A (compression ~:[off~;on~])" path compression)
  (sb-ext:save-lisp-and-die path
                            :executable t
                            :toplevel (executable-toplevel entry-point)
                            ;; The app owns its command line: the SBCL runtime must not parse --help etc.
                            :save-runtime-options t
                            :compression (and compression t)))
