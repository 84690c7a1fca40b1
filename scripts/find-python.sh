#!/bin/sh
# Print the path of a Python >= 3.12 interpreter, or explain and fail.
# Tries python3.13, python3.12 and python3 on PATH, then pyenv's installed versions
# (pyenv shims only run with PYENV_VERSION set, so we call the real binaries).
ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }
for cand in python3.14 python3.13 python3.12 python3; do
    p=$(command -v "$cand" 2>/dev/null) || continue
    if ok "$p"; then echo "$p"; exit 0; fi
done
root=${PYENV_ROOT:-$HOME/.pyenv}
for p in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
    if ok "$p"; then echo "$p"; exit 0; fi
done
echo "error: no Python >= 3.12 found (tried python3.13, python3.12, python3 and $root/versions); install one, e.g. 'pyenv install 3.12'" >&2
exit 1
