#!/bin/sh
# The real browser the dashboard tests drive: Debian's chromium, headless.
# Idempotent: does nothing when `chromium` is already on PATH. Installs it with apt-get when we are
# root; otherwise says what to run. `make test` calls this before pytest (so does the browser test's set-up).
set -eu

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "tests/setup_browser.sh: chromium is not installed and this is not root;" >&2
    echo "  install it with:  sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/setup_browser.sh: chromium is not installed and there is no apt-get here;" >&2
    echo "  install Chromium (or Chrome) so that \`chromium\` is on PATH" >&2
    exit 1
fi
echo "tests/setup_browser.sh: installing Debian's chromium (headless browser for the dashboard tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "tests/setup_browser.sh: apt-get ran, but chromium is still not on PATH" >&2; exit 1; }
