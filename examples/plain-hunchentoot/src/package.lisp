(defpackage #:plain-hunchentoot
  (:use #:cl)
  (:export #:main #:start-app #:stop-app))
