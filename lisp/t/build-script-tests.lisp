;;;; The image build scripts (lisp/build/), run as the Dockerfile runs them: a fresh SBCL loading
;;;; executable.lisp with its settings in the environment. Covers what the executable's toplevel does
;;;; before the app (the secret environment file, read without a shell), the heap size saved with the
;;;; runtime options, the error that names threads started at load time, and Quicklisp's HTTPS rewriting.

(in-package #:lisp-deploy-tests)

(def-suite build-scripts :in lisp-deploy :description "lisp/build/: the scripts each Dockerfile stage runs.")
(in-suite build-scripts)

(defun build-script (name)
  "The path of lisp/build/NAME."
  (namestring (merge-pathnames (concatenate 'string "../build/" name)
                               (asdf:system-source-directory "lisp-deploy-tests"))))

;;; common.lisp holds the portable parts of the build (the environment file's reader among them). Loaded
;;; when this file is compiled too: the tests below name its symbols.
(eval-when (:compile-toplevel :load-toplevel :execute)
  (flet ((script (name)
           (merge-pathnames (concatenate 'string "../build/" name)
                            (asdf:system-source-directory "lisp-deploy-tests"))))
    (unless (find-package "LISP-DEPLOY-BUILD")
      (load (script "common.lisp")))
    (unless (find-package "LISP-DEPLOY-QUICKLISP")
      (load (script "quicklisp-https.lisp")))))

(defun run-sbcl-build (system output &key runtime-options)
  "Build SYSTEM (from lisp/t/build-fixtures/) with lisp/build/executable.lisp into OUTPUT, the way the
build stage does. Returns (values exit-code stdout stderr)."
  (let ((fixtures (namestring (merge-pathnames "build-fixtures/" (asdf:system-source-directory "lisp-deploy-tests")))))
    (ensure-directories-exist output)
    (multiple-value-bind (out err code)
        (uiop:run-program (append (list "sbcl") runtime-options
                                  (list "--non-interactive" "--no-sysinit" "--no-userinit"
                                        "--load" (build-script "executable.lisp")))
                          :environment (append (list (format nil "LISP_DEPLOY_SOURCE_TREES=~A" fixtures)
                                                     (format nil "LISP_DEPLOY_SYSTEM=~A" system)
                                                     (format nil "LISP_DEPLOY_ENTRY_POINT=cl-user::~A"
                                                             (if (search "env-echo" system) "env-echo-main" "threads-at-load-main"))
                                                     (format nil "LISP_DEPLOY_OUTPUT=~A" output)
                                                     "LISP_DEPLOY_COMPRESSION=false")
                                               (sb-ext:posix-environ))
                          :output :string :error-output :string :ignore-error-status t)
      (values code out err))))

(defvar *env-echo* nil "The env-echo fixture executable, built once with a 512 MB heap.")

(defun env-echo ()
  (or *env-echo*
      (let ((output (format nil "~Abin/env-echo" (uiop:getenv "LISP_DEPLOY_TEST_BUILD"))))
        (multiple-value-bind (code out err)
            (run-sbcl-build "lisp-deploy-test-env-echo" output :runtime-options '("--dynamic-space-size" "512MB"))
          (unless (zerop code)
            (error "building env-echo failed (~D):~%~A~%~A" code out err)))
        (setf *env-echo* output))))

(defun run-env-echo (&rest environment)
  "Run env-echo with only ENVIRONMENT (\"NAME=value\" strings) and HOME; return its output lines."
  (multiple-value-bind (out err code)
      (uiop:run-program (list (env-echo))
                        :environment (list* "HOME=/tmp" environment)
                        :output :string :error-output :string :ignore-error-status t)
    (values (uiop:split-string (string-right-trim '(#\Newline) out) :separator '(#\Newline)) code err)))

(defun write-file (path text)
  (with-open-file (out path :direction :output :if-exists :supersede :external-format :utf-8)
    (write-string text out))
  path)

(test environment-file-parsing
  "The file a release writes (shell single quotes, '\\'' for a quote) reads back exactly."
  (is (equal '(("A" . "x y") ("B" . "it's") ("C" . "$HOME `id` \\n") ("D" . "two
lines") ("E" . "") ("F" . "bare"))
             (lisp-deploy-build:parse-environment-file
              (format nil "A='x y'~%B='it'\\''s'~%# a comment~%~%C='$HOME `id` \\n'~%D='two~%lines'~%E=''~%F=bare~%"))))
  (signals error (lisp-deploy-build:parse-environment-file (format nil "A='not closed~%")))
  (signals error (lisp-deploy-build:parse-environment-file (format nil "no assignment here~%"))))

(test executable-reads-the-secret-environment-file
  "The executable itself (no shell) puts the file's variables in its environment before the app runs, quotes
intact, and drops LISP_DEPLOY_ENV_FILE."
  (let* ((dir (fresh-directory))
         (file (write-file (merge-pathnames "secret.env" dir)
                           (format nil "API_TOKEN='tok '\\''en'\\'' $x'~%MULTI='one~%two'~%PLAIN='replaced'~%"))))
    (multiple-value-bind (lines code err)
        (run-env-echo (format nil "LISP_DEPLOY_ENV_FILE=~A" (namestring file)) "PLAIN=original")
      (is (eql 0 code) "env-echo failed: ~A" err)
      (is (equal (list "API_TOKEN=\"tok 'en' $x\""
                       (format nil "MULTI=\"one~%two\"")
                       "PLAIN=\"replaced\""
                       "LISP_DEPLOY_ENV_FILE=\"<unset>\""
                       "dynamic-space-mb=512")
                 (let ((l (copy-list lines)))
                   ;; MULTI's value spans two lines of output: join them back.
                   (let ((at (position-if (lambda (s) (uiop:string-prefix-p "MULTI=" s)) l)))
                     (when at
                       (setf l (append (subseq l 0 at)
                                       (list (format nil "~A~%~A" (nth at l) (nth (1+ at) l)))
                                       (nthcdr (+ at 2) l)))))
                   l))))))

(test executable-without-environment-file
  "Without LISP_DEPLOY_ENV_FILE the app starts directly, with the heap size saved at build time."
  (multiple-value-bind (lines code) (run-env-echo "PLAIN=p")
    (is (eql 0 code))
    (is (equal '("API_TOKEN=\"<unset>\"" "MULTI=\"<unset>\"" "PLAIN=\"p\"" "LISP_DEPLOY_ENV_FILE=\"<unset>\"" "dynamic-space-mb=512")
               lines))))

(test unreadable-environment-file-stops-the-start
  "A missing file is an error at start, naming the variable, not an app silently without its secrets."
  (multiple-value-bind (lines code err) (run-env-echo "LISP_DEPLOY_ENV_FILE=/nonexistent/secret.env")
    (declare (ignore lines))
    (is (not (eql 0 code)))
    (is (search "LISP_DEPLOY_ENV_FILE=/nonexistent/secret.env" err))))

(test threads-started-at-load-time-fail-the-build-by-name
  "A library that starts a thread when loaded makes save-lisp-and-die impossible: the build says which
thread, and how to stop it before the dump."
  (let ((output (format nil "~Abin/threads-at-load" (uiop:getenv "LISP_DEPLOY_TEST_BUILD"))))
    (multiple-value-bind (code out err) (run-sbcl-build "lisp-deploy-test-threads-at-load" output)
      (is (eql 1 code) "the build should fail; output:~%~A~%~A" out err)
      (is (search "1 thread besides the main one is running" err) "stderr: ~A" err)
      (is (search "\"fixture-poller\"" err))
      (is (search "uiop:*image-dump-hook*" err))
      (is (not (probe-file output))))))

(test quicklisp-urls-are-fetched-over-https-only
  "Quicklisp's http:// URLs become https:// (its plain HTTP port dropped); other schemes are refused."
  (is (equal "https://beta.quicklisp.org/dist/quicklisp/2024-10-12/distinfo.txt"
             (lisp-deploy-quicklisp:https-url "http://beta.quicklisp.org/dist/quicklisp/2024-10-12/distinfo.txt")))
  (is (equal "https://beta.quicklisp.org/archive/x.tgz"
             (lisp-deploy-quicklisp:https-url "http://beta.quicklisp.org:80/archive/x.tgz")))
  (is (equal "https://example.org:8443/a" (lisp-deploy-quicklisp:https-url "https://example.org:8443/a")))
  (signals error (lisp-deploy-quicklisp:https-url "ftp://example.org/x"))
  (signals error (lisp-deploy-quicklisp:https-url "file:///etc/passwd")))
