;;;; Quicklisp over HTTPS. Quicklisp's client speaks only plain HTTP (its own socket code, no TLS), and
;;;; every URL it uses (the client's files, a dist's index, each library's archive) is http://. Loaded in
;;;; the `quicklisp` stage (which installs the client and the pinned dist with INSTALL) and again in the
;;;; `dependencies` stage (before `ql:quickload` downloads archives), this makes every fetch go through
;;;; curl over HTTPS instead: http:// URLs are rewritten to https://, curl refuses any other protocol
;;;; (also on redirects) and checks the server's certificate, so no Lisp code arrives unauthenticated.
;;;; The client's own files are also checked against the sha256 digests the pinned client-info lists.
;;;; Portable Common Lisp plus UIOP and Quicklisp's documented fetch hook (ql-http:*fetch-scheme-functions*).

(require "asdf")

(defpackage #:lisp-deploy-quicklisp
  (:use #:cl)
  (:export #:https-url #:curl-fetch #:use-https #:install))

(in-package #:lisp-deploy-quicklisp)

(defun https-url (url)
  "URL with its scheme made https (an explicit :80, the plain HTTP port, dropped). Any other scheme is an error."
  (let* ((url (string url))
         (colon (search "://" url)))
    (unless (and colon (member (subseq url 0 colon) '("http" "https") :test #'string-equal))
      (error "Refusing to fetch ~S: only http(s) URLs are fetched, and always over HTTPS." url))
    (let* ((rest (subseq url (+ colon 3)))
           (slash (or (position #\/ rest) (length rest)))
           (host (subseq rest 0 slash)))
      (when (and (> (length host) 3) (string= ":80" host :start2 (- (length host) 3)))
        (setf host (subseq host 0 (- (length host) 3))))
      (concatenate 'string "https://" host (subseq rest slash)))))

(defun curl-fetch (url file &key quietly &allow-other-keys)
  "Fetch URL over HTTPS into FILE with curl (the signature of a ql-http fetch scheme function).
Returns (values header-or-nil truename)."
  (let ((https (https-url url)))
    (unless quietly (format *trace-output* "~&; Fetching ~A~%" https))
    (ensure-directories-exist file)
    (uiop:run-program (list "curl" "--fail" "--silent" "--show-error" "--location"
                            "--proto" "=https" "--proto-redir" "=https" "--tlsv1.2"
                            "--retry" "3" "--output" (uiop:native-namestring file) https)
                      :output *error-output* :error-output *error-output*)
    (values (let ((header-class (find-symbol "HEADER" "QL-HTTP")))
              (and header-class (ignore-errors (make-instance header-class :status 200))))
            (probe-file file))))

(defun use-https ()
  "Make the loaded Quicklisp client fetch http:// and https:// URLs with CURL-FETCH."
  (let ((symbol (and (find-package "QL-HTTP") (find-symbol "*FETCH-SCHEME-FUNCTIONS*" "QL-HTTP"))))
    (unless symbol
      (error "The Quicklisp client has no ql-http:*fetch-scheme-functions*; it is too old to fetch over HTTPS."))
    (setf (symbol-value symbol) (list (cons "http" 'curl-fetch) (cons "https" 'curl-fetch)))))

(defun sha256-of (file)
  "The sha256 of FILE in lower-case hex, by sha256sum (coreutils, in every Debian image)."
  (let ((out (uiop:run-program (list "sha256sum" (uiop:native-namestring file)) :output :string)))
    (subseq out 0 (position #\Space out))))

(defun fetch-checked (entry file what)
  "Fetch the client file ENTRY (a client-info plist: :url, :sha256) into FILE; error on a digest mismatch."
  (let ((url (getf entry :url))
        (sha256 (getf entry :sha256)))
    (unless url (error "The Quicklisp client-info has no URL for ~A." what))
    (curl-fetch url file)
    (when sha256
      (let ((actual (sha256-of file)))
        (unless (string-equal actual sha256)
          (error "The Quicklisp client's ~A from ~A has sha256 ~A, but the client-info pins ~A; refusing it."
                 what (https-url url) actual sha256))))))

(defun install (home client-info-url dist-url)
  "Install the Quicklisp client described by CLIENT-INFO-URL into HOME (a directory) and then the dist at
DIST-URL, everything fetched by CURL-FETCH. What quicklisp-quickstart:install does, without its HTTP code."
  (let* ((home (uiop:ensure-directory-pathname home))
         (client-info-file (merge-pathnames "client-info.sexp" home))
         (tar (merge-pathnames "tmp/quicklisp.tar" home)))
    (ensure-directories-exist tar)
    (curl-fetch client-info-url client-info-file)
    (let ((info (with-open-file (in client-info-file)
                  (with-standard-io-syntax
                    (let ((*read-eval* nil)) (read in))))))
      (fetch-checked (getf info :client-tar) tar "client tarball")
      (fetch-checked (getf info :setup) (merge-pathnames "setup.lisp" home) "setup.lisp")
      (fetch-checked (getf info :asdf) (merge-pathnames "asdf.lisp" home) "asdf.lisp")
      (uiop:run-program (list "tar" "-xf" (uiop:native-namestring tar) "-C" (uiop:native-namestring home))
                        :output *error-output* :error-output *error-output*)
      (delete-file tar)
      (load (merge-pathnames "setup.lisp" home))
      (use-https)
      (uiop:symbol-call "QL-DIST" "INSTALL-DIST" dist-url :prompt nil :replace t)
      (format t "~&; Quicklisp client ~A and dist ~A installed in ~A~%" (getf info :version) dist-url home))))
