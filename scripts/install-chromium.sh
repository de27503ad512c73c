#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test (test/e2e/dashboard.test.ts), which drives it
# with playwright-core at /usr/bin/chromium; without it that test skips and says why.
exec bash "$(dirname "$0")/apt-install.sh" chromium /usr/bin/chromium
