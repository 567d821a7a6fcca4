(defpackage #:hello
  (:use #:cl)
  (:export #:main #:migrate #:start #:stop #:+greeting+ #:+version+))
