;;;; The `dependencies` stage: load only the app's dependencies and save them as dependencies.core.
;;;; Settings (environment): LISP_DEPLOY_DEPENDENCIES (the generated list), LISP_DEPLOY_SOURCE_TREES
;;;; (colon-separated directories of vendored or bundled sources), LISP_DEPLOY_SETUP (optional Quicklisp or
;;;; qlot setup.lisp to load first), LISP_DEPLOY_CORE (where to save the core).

(load (merge-pathnames "common.lisp" *load-truename*))
(load (merge-pathnames "sbcl.lisp" *load-truename*))

(in-package #:lisp-deploy-build)

(with-build-errors-reported ("loading the dependencies")
  (register-source-trees (setting-list "LISP_DEPLOY_SOURCE_TREES"))
  (let ((setup (setting "LISP_DEPLOY_SETUP" "")))
    (when (plusp (length setup))
      (note "loading ~A" setup)
      (load setup)
      ;; Quicklisp fetches the dependencies' archives now: over HTTPS with curl, never its plain HTTP.
      (let ((https (merge-pathnames "quicklisp-https.lisp" *load-truename*)))
        (when (and (find-package "QL-HTTP") (probe-file https))
          (load https)
          (uiop:symbol-call "LISP-DEPLOY-QUICKLISP" "USE-HTTPS")
          (note "Quicklisp fetches over HTTPS with curl")))))
  (multiple-value-bind (systems modules) (read-dependency-list (setting "LISP_DEPLOY_DEPENDENCIES"))
    (load-dependencies systems modules))
  (save-dependencies-core (setting "LISP_DEPLOY_CORE")))
