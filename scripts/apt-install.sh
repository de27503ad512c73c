#!/usr/bin/env bash
# Installs one Debian package that a check needs, when its program is missing:
#   bash scripts/apt-install.sh <package> <program path>
# Does nothing when the program is already there. Exits non-zero, saying why, when it cannot be installed
# (no apt-get, not root, package unavailable); the check that needs it then skips and says so.
set -uo pipefail
package=${1:?usage: apt-install.sh <package> <program path>}
program=${2:?usage: apt-install.sh <package> <program path>}

if [ -x "$program" ]; then
  echo "$package: already installed ($("$program" --version 2>/dev/null | head -1))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$package: not installed: apt-get not found (install Debian's $package package by hand)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "$package: not installed: needs root for apt-get (run as root or with passwordless sudo)" >&2
    exit 1
  fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get update >"$log" 2>&1; then
  tail -5 "$log" >&2
  echo "$package: not installed: apt-get update failed" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$package" >"$log" 2>&1; then
  tail -5 "$log" >&2
  echo "$package: not installed: apt-get install $package failed" >&2
  exit 1
fi
if [ ! -x "$program" ]; then
  echo "$package: the $package package installed no $program" >&2
  exit 1
fi
echo "$package: installed ($("$program" --version 2>/dev/null | head -1))"
