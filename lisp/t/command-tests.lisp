;;;; One-off commands: the executable started with arguments (a release command such as
;;;; `hello migrate`) runs the app's command or Lisp forms and exits, instead of serving.

(in-package #:lisp-deploy-tests)

(def-suite commands :in lisp-deploy :description "Executables started with a command run it and exit.")
(in-suite commands)

(defun run-to-exit (arguments &rest environment)
  "Run hello with ARGUMENTS and ENVIRONMENT until it exits; return its exit code, stdout and stderr."
  (let ((run (apply #'start-command "hello" arguments environment)))
    (unwind-protect
         (values (wait-for-exit run) (run-output run :stdout) (run-output run :stderr))
      (kill-run run))))

(defun state-directory ()
  "A fresh directory standing in for systemd's STATE_DIRECTORY."
  (let ((dir (merge-pathnames "state/" (fresh-directory))))
    (ensure-directories-exist dir)))

(test a-named-command-runs-with-the-environment-and-exits-0
  (let ((state (state-directory)))
    (multiple-value-bind (code out err)
        (run-to-exit '("migrate") (format nil "STATE_DIRECTORY=~A" (namestring state)))
      (is (= 0 code) "exit ~D; stdout ~S stderr ~S" code out err)
      (is (search "migrated the state directory to schema 1" out))
      (is (string= (format nil "1~%") (uiop:read-file-string (merge-pathnames "schema-version.txt" state))))
      (is (not (search "listening" out)) "it served instead of exiting: ~S" out))))

(test an-error-in-a-command-exits-1-with-the-error-and-a-backtrace
  (multiple-value-bind (code out err) (run-to-exit '("--eval" "(error \"the schema is locked\")"))
    (is (= 1 code) "exit ~D; stdout ~S" code out)
    (is (search "unhandled simple-error: the schema is locked" err) "stderr: ~S" err)
    (is (< 2 (length (lines err))) "no backtrace: ~S" err)))

(test eval-forms-run-in-order-and-may-quit-with-a-status
  (multiple-value-bind (code out) (run-to-exit '("--eval" "(princ \"one \") (princ \"two\")" "--eval" "(uiop:quit 3)"))
    (is (= 3 code))
    (is (search "one two" out) "stdout: ~S" out))
  (multiple-value-bind (code out) (run-to-exit '("--eval" "(hello:migrate)"))
    (is (= 0 code))
    (is (search "no STATE_DIRECTORY: nothing to migrate" out) "stdout: ~S" out)))

(test eval-takes-only-eval-pairs
  (multiple-value-bind (code out err) (run-to-exit '("--eval" "(princ 1)" "migrate"))
    (is (= 2 code))
    (is (search "expected --eval FORM [--eval FORM ...]" err) "stderr: ~S" err)
    (is (string= "" (remove-if-not #'digit-char-p out)) "a form ran before the usage error: ~S" out)))

(test an-unknown-command-exits-2-naming-the-known-ones
  (multiple-value-bind (code out err) (run-to-exit '("migrat"))
    (is (= 2 code))
    (is (search "unknown command \"migrat\"; this executable knows migrate and --eval FORM" err) "stderr: ~S" err)
    (is (not (search "listening" out)))))

(test without-arguments-it-still-serves
  (with-run (run "hello" "PORT=18290" "BIND_ADDRESS=127.0.0.1")
    (wait-for-output run "listening on 127.0.0.1:18290")
    (multiple-value-bind (status body) (http-get 18290 "/state")
      (is (= 200 status))
      (is (search "no state directory" body)))))

(test the-state-page-counts-visits-in-the-state-directory-across-processes
  (let ((state (state-directory)))
    (dotimes (i 2)
      (with-run (run "hello" "PORT=18291" "BIND_ADDRESS=127.0.0.1" (format nil "STATE_DIRECTORY=~A" (namestring state)))
        (wait-for-output run "listening on 127.0.0.1:18291")
        (multiple-value-bind (status body) (http-get 18291 "/state")
          (is (= 200 status))
          (is (search (format nil "schema none, visit ~D (hello 1.0.0)" (1+ i)) body) "body: ~S" body))
        (send-signal run sb-posix:sigterm)
        (is (= 0 (wait-for-exit run)))))))
