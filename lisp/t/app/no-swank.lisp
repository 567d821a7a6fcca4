;;;; The smallest app on lisp-deploy's Hunchentoot support, built without Swank.

(defpackage #:lisp-deploy-test-app-no-swank
  (:use #:cl)
  (:export #:main))

(in-package #:lisp-deploy-test-app-no-swank)

(defun main ()
  "Serve Hunchentoot's default page through the runtime."
  (lisp-deploy/hunchentoot:main :name "no-swank test app"))
