#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/test_app_e2e.py, tests/test_report.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Run as root or with sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium
test -x /usr/bin/chromium
