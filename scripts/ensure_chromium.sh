#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser tests (tests/system/test_docs_browser.py).
# Does nothing when it is already there; installs it with apt-get when running as root on a
# machine that has apt-get; otherwise fails and says which package to install.
set -euo pipefail

CHROMIUM="${CASEWORK_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing; installing Debian's chromium package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q chromium
    if [ -x "$CHROMIUM" ]; then
        exit 0
    fi
    echo "ensure_chromium: apt-get installed chromium but $CHROMIUM is still missing" >&2
    exit 1
fi

echo "ensure_chromium: the browser tests need Debian's 'chromium' package at $CHROMIUM;" \
     "install it (as root: apt-get update && apt-get install -y chromium)" >&2
exit 1
