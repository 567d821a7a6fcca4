(defpackage #:lisp-deploy-tests
  (:use #:cl #:fiveam)
  (:export #:run-all))

(in-package #:lisp-deploy-tests)

(def-suite lisp-deploy :description "lisp-deploy's runtime.")

(defun run-all ()
  "Run every test, print the results and a closing `N passed, N failed` line; true when none failed."
  (let* ((results (run 'lisp-deploy))
         (passed (count-if (lambda (r) (typep r 'it.bese.fiveam::test-passed)) results))
         (failed (- (length results) passed)))
    (explain! results)
    (format t "~&~D passed, ~D failed~%" passed failed)
    (finish-output)
    (and (plusp passed) (zerop failed))))
