#!/usr/bin/env bash
# Installs Debian's chromium for the web app's browser tests (playwright drives it through
# executable_path; playwright's own browser download cannot work here). Idempotent; needs root or sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "install_browser: need root (or sudo) to run: $*" >&2; return 1; fi; }
echo "install_browser: installing chromium with apt-get"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
