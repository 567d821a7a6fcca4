;;;; The `build` stage: started on dependencies.core (which already holds the build package), load the
;;;; app's system and save the executable.
;;;; Settings (environment): LISP_DEPLOY_SOURCE_TREES (the app directory first, then the dependency trees),
;;;; LISP_DEPLOY_SYSTEM, LISP_DEPLOY_ENTRY_POINT (package:function), LISP_DEPLOY_OUTPUT (executable path),
;;;; LISP_DEPLOY_COMPRESSION ("true" or "false").

(unless (find-package "LISP-DEPLOY-BUILD")
  (load (merge-pathnames "common.lisp" *load-truename*))
  (load (merge-pathnames "sbcl.lisp" *load-truename*)))

(in-package #:lisp-deploy-build)

(with-build-errors-reported ("building the executable")
  (register-source-trees (setting-list "LISP_DEPLOY_SOURCE_TREES"))
  (let ((system (setting "LISP_DEPLOY_SYSTEM")))
    (note "loading ~A" system)
    (asdf:load-system system))
  (let* ((name (setting "LISP_DEPLOY_ENTRY_POINT"))
         (symbol (uiop:safe-read-from-string name :package "CL-USER")))
    ;; Resolve the entry point now, so a typo fails the build instead of the first start.
    (unless (and (symbolp symbol) (fboundp symbol))
      (error "The entry point ~A is not a function after loading the system; check :entry-point." name))
    (save-executable (setting "LISP_DEPLOY_OUTPUT") symbol
                     :compression (string-equal (setting "LISP_DEPLOY_COMPRESSION" "false") "true"))))
