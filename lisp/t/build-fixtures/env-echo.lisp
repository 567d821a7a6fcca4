;;;; Prints, one per line: API_TOKEN, MULTI, PLAIN and LISP_DEPLOY_ENV_FILE as the process sees them
;;;; (or <unset>), then the dynamic space size in MB.

(in-package #:cl-user)

(defun env-echo-main ()
  (dolist (name '("API_TOKEN" "MULTI" "PLAIN" "LISP_DEPLOY_ENV_FILE"))
    (format t "~A=~S~%" name (or (sb-ext:posix-getenv name) "<unset>")))
  (format t "dynamic-space-mb=~D~%" (floor (sb-ext:dynamic-space-size) (* 1024 1024)))
  (finish-output))
