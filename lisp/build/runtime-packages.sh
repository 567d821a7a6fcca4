#!/bin/sh
# Maps the shared libraries an executable opens at start (one soname or path per line in $1, written by
# save-executable) to the Debian packages that ship them, and writes those package names, sorted, to $2.
# It runs in the build stage, where the libraries are installed because the build loaded them, so the
# runtime stage can install exactly what the executable needs and nothing else.
# A library no package owns is left out here; the runtime stage's check then names it.
set -eu
objects=$1
out=$2
: >"$out.unsorted"
while IFS= read -r lib; do
  [ -n "$lib" ] || continue
  name=$(basename "$lib")
  # dpkg -S takes a glob: "*/libssl.so.3" finds the owner whatever the multiarch directory is.
  owner=$(dpkg -S "*/$name" 2>/dev/null | sed -n 's/^\([^:,]*\).*/\1/p' | head -n 1) || true
  if [ -n "$owner" ]; then
    echo "$owner" >>"$out.unsorted"
  else
    echo "lisp-deploy: no Debian package owns $lib; the runtime stage will need it in runtimePackages" >&2
  fi
done <"$objects"
sort -u "$out.unsorted" >"$out"
rm "$out.unsorted"
echo "lisp-deploy: runtime packages for the executable's shared libraries: $(tr '\n' ' ' <"$out")" >&2
