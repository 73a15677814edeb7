#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium): Playwright never downloads a
# browser here. Install it when missing; CI runs `make test` as root on a clean Debian machine.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing: install it (sudo apt-get install -y chromium) for tests/ui" >&2
    exit 1
fi
echo "installing Debian's chromium for the browser tests (~30 s)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
