;;;; The test fixture app. Its log lines are what the tests wait on, so tests never guess timing.

(defpackage #:lisp-deploy-test-app
  (:use #:cl)
  (:export #:main))

(in-package #:lisp-deploy-test-app)

(hunchentoot:define-easy-handler (front-page :uri "/") ()
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "test app~%"))

(hunchentoot:define-easy-handler (slow :uri "/slow") (seconds)
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (lisp-deploy:log-event :info "slow request started")
  (sleep (parse-integer seconds))
  (lisp-deploy:log-event :info "slow request finished")
  (format nil "slow done after ~As~%" seconds))

(hunchentoot:define-easy-handler (fail-in-background :uri "/fail-in-background") ()
  ;; An error no handler catches, in a thread of the app's own: the runtime must not leave the
  ;; process half-alive in the debugger.
  (sb-thread:make-thread (lambda () (error "background job failed")) :name "background job")
  (format nil "started~%"))

(defun main ()
  "Serve the fixture; FAIL_AT_START=1 makes the start hook fail, to test crash handling.
HUNCHENTOOT_OWN_STOP=1 serves with a plain EASY-ACCEPTOR, so SIGTERM gets Hunchentoot's own stop:
test/integration/graceful-stop.test.ts counts what that drops beside the graceful stop."
  (lisp-deploy/hunchentoot:main
   :name "test-app"
   :acceptor-class (if (equal (uiop:getenv "HUNCHENTOOT_OWN_STOP") "1")
                       'hunchentoot:easy-acceptor
                       'lisp-deploy/hunchentoot:graceful-easy-acceptor)
   :on-start (lambda (acceptor)
               (declare (ignore acceptor))
               (when (equal (uiop:getenv "FAIL_AT_START") "1")
                 (error "test app refuses to start: FAIL_AT_START is set")))
   :on-stop (lambda () (lisp-deploy:log-event :info "app stop hook ran"))))
