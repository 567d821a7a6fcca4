;;;; Delta releases: turn dependencies.core into a standalone executable a host runs to build the app
;;;; from its sources (the host needs no SBCL installed: the SBCL runtime is inside). Run as
;;;;   sbcl --core dependencies.core --non-interactive --no-sysinit --no-userinit --load THIS-FILE
;;;; in the image's `dependencies` stage, so it holds exactly what the image's build stage starts from.
;;;; Settings (environment): LISP_DEPLOY_OUTPUT (where to save the executable).
;;;; SBCL-specific (save-lisp-and-die), hence the name; the portable part is one ASDF call.

(in-package #:lisp-deploy-build)

(with-build-errors-reported ("saving the dependencies executable")
  ;; The host has none of the dependencies' sources: ASDF must take every system loaded now as final
  ;; instead of looking for its .asd file (and failing) when the app's system depends on it.
  (dolist (system (asdf:already-loaded-systems))
    (asdf:register-immutable-system system))
  (let ((path (setting "LISP_DEPLOY_OUTPUT")))
    (note "saving the dependencies executable ~A" path)
    ;; The default toplevel keeps SBCL's command line (--non-interactive, --load ...), which is how the
    ;; host runs executable.lisp with it. Not compressed: the host starts it once per build, and an
    ;; uncompressed core also compresses well in transit.
    (sb-ext:save-lisp-and-die path :executable t)))
