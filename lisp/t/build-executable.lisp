;;;; Loaded by run-tests.sh in a fresh SBCL: build one ASDF system into a real executable at a
;;;; path under .build/, the way ASDF's program-op does (entry point from the .asd, dump with
;;;; UIOP), but without writing the executable into the source tree beside the .asd.

(defun build-executable (system-name output)
  "Load SYSTEM-NAME, then dump an executable to OUTPUT whose toplevel is the system's :entry-point."
  (asdf:load-system system-name)
  (let ((entry (asdf::component-entry-point (asdf:find-system system-name))))
    (unless entry
      (error "system ~A has no :entry-point" system-name))
    (setf uiop:*image-entry-point* (uiop:ensure-function entry))
    (ensure-directories-exist output)
    (uiop:dump-image output :executable t)))
