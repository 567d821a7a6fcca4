#!/bin/sh
# Assembles the whole file system of the slim runtime image under ROOT, from the build stage's own files
# (so every library is the very version the executable was built and checked against):
#   - the shared libraries the executable links (its ldd closure, the dynamic loader included),
#   - those it opens at start (SBCL's *shared-objects*, listed one per line in SHARED_OBJECTS) and theirs,
#   - every file of the Debian PACKAGES the user named (runtimePackages, e.g. tzdata), and the ldd
#     closure of the ELF files among them,
#   - CA certificates, a fresh ld.so.cache, /etc/passwd and /etc/group holding root and the app's user
#     (uid/gid UID), an empty /tmp.
# Nothing else: no shell, no package manager, no coreutils. The runtime stage copies ROOT to / and the
# executable beside it. A shared object that cannot be found fails the build here, not the first start.
#
# Usage: runtime-rootfs.sh EXECUTABLE SHARED_OBJECTS ROOT UID [PACKAGE...]
set -eu
exe=$1
objects=$2
root=$3
uid=$4
shift 4

fail() {
  echo "lisp-deploy: $*" >&2
  exit 1
}

rm -rf "$root"
mkdir -p "$root/etc" "$root/tmp" "$root/app"
chmod 1777 "$root/tmp"

# Merged /usr: /lib, /lib64 ... are links into /usr in the build stage; the same links here, so the paths
# ELF files record (the loader /lib64/ld-linux-x86-64.so.2, for one) resolve as they do there.
for d in lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"; fi
done

# Copies PATH as the build stage has it: each link on the way (at its real directory) and the file at the end.
copy() {
  p=$1
  hops=0
  while [ -L "$p" ]; do
    dir=$(cd "$(dirname "$p")" && pwd -P)
    mkdir -p "$root$dir"
    dest="$root$dir/$(basename "$p")"
    [ -e "$dest" ] || [ -L "$dest" ] || cp -P "$p" "$dest"
    target=$(readlink "$p")
    case $target in /*) p=$target ;; *) p=$dir/$target ;; esac
    hops=$((hops + 1))
    [ "$hops" -lt 40 ] || fail "too many symbolic links resolving $1"
  done
  [ -e "$p" ] || fail "$1 leads to $p, which does not exist in the build stage"
  dir=$(cd "$(dirname "$p")" && pwd -P)
  mkdir -p "$root$dir"
  dest="$root$dir/$(basename "$p")"
  if [ -d "$p" ]; then mkdir -p "$dest"; elif [ ! -e "$dest" ]; then cp -p "$p" "$dest"; fi
}

is_elf() {
  [ -f "$1" ] && [ "$(head -c 4 "$1" | tail -c 3)" = "ELF" ]
}

# Copies every library FILE links, as the dynamic loader resolves them (ldd prints the whole closure).
copy_closure() {
  out=$(ldd "$1" 2>&1) || case $out in *"not a dynamic executable"* | *"statically linked"*) return 0 ;; *) fail "ldd $1: $out" ;; esac
  missing=$(printf '%s\n' "$out" | awk '$2 == "=>" && $3 == "not" { print $1 }')
  [ -z "$missing" ] || fail "$1 needs $(printf '%s\n' "$missing" | tr '\n' ' '), which the build stage lacks; add its package to buildPackages."
  printf '%s\n' "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while IFS= read -r lib; do
    copy "$lib"
  done
}

copy_closure "$exe"

# Shared objects the executable reopens at start: by path, or by soname through ld.so.cache.
while IFS= read -r lib; do
  [ -n "$lib" ] || continue
  case $lib in
    /*) path=$lib ;;
    *) path=$(ldconfig -p | awk -v name="$lib" '$1 == name { print $NF; exit }') ;;
  esac
  if [ -z "$path" ] || [ ! -e "$path" ]; then
    fail "the executable opens $lib at start, but the build stage has no such library; add the package that provides it to runtimePackages."
  fi
  copy "$path"
  copy_closure "$path"
done <"$objects"

# The packages the user named: all their files (data such as tzdata's zoneinfo included), and what their ELF files link.
for package in "$@"; do
  dpkg -L "$package" >/dev/null 2>&1 || fail "the runtime package $package is not installed in the build stage."
  dpkg -L "$package" | while IFS= read -r f; do
    case $f in /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /.) continue ;; esac
    if [ -L "$f" ] || [ -f "$f" ]; then
      copy "$f"
      if is_elf "$f"; then copy_closure "$f"; fi
    fi
  done
done

# CA certificates, where OpenSSL (cl+ssl) and most HTTP clients look by default.
copy /etc/ssl/certs/ca-certificates.crt
mkdir -p "$root/usr/lib/ssl"
[ -e "$root/usr/lib/ssl/cert.pem" ] || [ -L "$root/usr/lib/ssl/cert.pem" ] || ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
[ -e "$root/usr/lib/ssl/certs" ] || [ -L "$root/usr/lib/ssl/certs" ] || ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"

# Name resolution and the loader's cache: libc's defaults read these; the cache lists only the libraries here.
for f in /etc/nsswitch.conf /etc/ld.so.conf; do [ -e "$f" ] && copy "$f"; done
if [ -d /etc/ld.so.conf.d ]; then
  mkdir -p "$root/etc/ld.so.conf.d"
  for f in /etc/ld.so.conf.d/*.conf; do [ -e "$f" ] && copy "$f"; done
fi
mkdir -p "$root/var/cache/ldconfig"
ldconfig -r "$root"
rm -rf "$root/var/cache/ldconfig"
rmdir "$root/var/cache" "$root/var" 2>/dev/null || true

# The users: root (uid 0 owns the files) and the app's own, whose home is /app.
printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:%s:%s:app:/app:/sbin/nologin\n' "$uid" "$uid" >"$root/etc/passwd"
printf 'root:x:0:\napp:x:%s:\n' "$uid" >"$root/etc/group"

echo "lisp-deploy: runtime file system: $(find "$root" -type f | wc -l) files, $(du -sk "$root" | cut -f1) KB (executable not included)" >&2
