(defpackage #:hello
  (:use #:cl)
  (:export #:main #:start #:stop #:+greeting+ #:+version+))
