#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test (test/e2e/dashboard.test.ts), which drives it
# with playwright-core at /usr/bin/chromium. Does nothing when it is already there. Exits non-zero, saying
# why, when it cannot be installed (no apt-get, not root, package unavailable); the test then skips.
set -uo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed: apt-get not found (install Debian's chromium package by hand)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "chromium: not installed: needs root for apt-get (run as root or with passwordless sudo)" >&2
    exit 1
  fi
fi
log=$(mktemp)
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get update >"$log" 2>&1; then
  tail -5 "$log" >&2
  echo "chromium: not installed: apt-get update failed" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium >"$log" 2>&1; then
  tail -5 "$log" >&2
  echo "chromium: not installed: apt-get install chromium failed" >&2
  exit 1
fi
rm -f "$log"
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium: the chromium package installed no /usr/bin/chromium" >&2
  exit 1
fi
echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
