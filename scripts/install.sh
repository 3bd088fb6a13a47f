#!/usr/bin/env bash
# install.sh - `make install` and `make uninstall`: copy a built clinner into
# DESTDIR/PREFIX, and record every file, link and new folder in a manifest
# (PREFIX/share/clinner/install-manifest.txt) so that uninstall removes
# exactly that and nothing else.  Run by the Makefile, which passes:
#   BUILD PREFIX DESTDIR SOFILE SONAME   (the shared library's file and soname)
# What goes where (relative to PREFIX):
#   bin/clinner
#   lib/libclinner.a  lib/SOFILE  lib/SONAME -> SOFILE  lib/libclinner.so -> SONAME
#   lib/pkgconfig/clinner.pc
#   include/clinner/*.h
#   share/man/man1/clinner.1
#   share/clinner/   the model files of models/ (*.model, *.json, README*, *.sha256,
#                    SHA256SUMS, LICENSE*) when they exist, and the manifest
# Installing over an earlier install first removes what its manifest lists.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${BUILD:?}" "${PREFIX:?}" "${SOFILE:?}" "${SONAME:?}"
DESTDIR=${DESTDIR:-}
case $PREFIX in /*) ;; *) echo "install: PREFIX must be an absolute path (got '$PREFIX')" >&2; exit 1 ;; esac
root="$DESTDIR$PREFIX"
manifest_rel=share/clinner/install-manifest.txt
manifest="$root/$manifest_rel"

uninstall() {
    if [ ! -f "$manifest" ]; then
        echo "uninstall: no clinner install at $root (no $manifest_rel)" >&2
        return 0
    fi
    local kind rel dirs=()
    while read -r kind rel; do
        case $kind in
            f|l) rm -f "$root/$rel" ;;
            d) dirs+=("$rel") ;;
        esac
    done <"$manifest"
    rm -f "$manifest"
    # folders install created, deepest first; kept when something else is in them
    local i
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        rmdir "$root/${dirs[i]}" 2>/dev/null ||
            echo "uninstall: kept $root/${dirs[i]} (not empty)" >&2
    done
    echo "uninstall: removed clinner from $root"
}

if [ "${1:-}" = uninstall ]; then uninstall; exit 0; fi
[ "${1:-}" = install ] || { echo "usage: $0 install|uninstall" >&2; exit 64; }

for f in "$BUILD/clinner" "$BUILD/libclinner.a" "$BUILD/$SOFILE" "$BUILD/clinner.pc" docs/clinner.1; do
    [ -f "$f" ] || { echo "install: $f is missing (run make first)" >&2; exit 1; }
done
[ ! -f "$manifest" ] || uninstall >/dev/null

entries=()
new_dir() {   # mkdir -p, recording each folder it creates
    local rel=$1 path="" part
    local IFS=/
    for part in $rel; do
        path=${path:+$path/}$part
        if [ ! -d "$root/$path" ]; then
            mkdir -p "$root/$path"
            entries+=("d $path")
        fi
    done
}
put() {       # put MODE SOURCE RELDIR
    new_dir "$3"
    install -m "$1" "$2" "$root/$3/"
    entries+=("f $3/$(basename "$2")")
}
link() {      # link TARGET RELPATH
    ln -sfn "$1" "$root/$2"
    entries+=("l $2")
}

put 0755 "$BUILD/clinner" bin
put 0644 "$BUILD/libclinner.a" lib
put 0755 "$BUILD/$SOFILE" lib
link "$SOFILE" "lib/$SONAME"
link "$SONAME" lib/libclinner.so
put 0644 "$BUILD/clinner.pc" lib/pkgconfig
for h in include/clinner/*.h; do put 0644 "$h" include/clinner; done
put 0644 docs/clinner.1 share/man/man1
new_dir share/clinner
shopt -s nullglob
for m in models/*.model models/*.json models/README* models/*.sha256 models/SHA256SUMS* models/LICENSE*; do
    [ -f "$m" ] && put 0644 "$m" share/clinner
done

tmp="$manifest.tmp.$$"
printf '%s\n' "${entries[@]}" >"$tmp"
mv -f "$tmp" "$manifest"
echo "install: clinner into $root ($(grep -c '^[fl] ' "$manifest") files; manifest $manifest_rel)"
