#!/usr/bin/env bash
# Install the system packages the book needs, and only those that are missing (Debian/Ubuntu).
#
#   make            - runs the two commands
#   python3 venv    - the virtual environment the commands create (Debian splits it into python3-venv)
#   npm             - installs MathJax 3 from the npm registry, so formulas render offline
#   chromium        - the test command opens the built pages in it, headless
#
# Each package is decided on its own: some images ship a `nodejs` that bundles npm and conflicts
# with Debian's `npm` package, so npm is installed only where no `npm` command exists at all.
# Run as root (or with sudo available). `--dry-run` prints what apt-get would do (apt-get -s).
set -euo pipefail

simulate=""
if [ "${1:-}" = "--dry-run" ]; then simulate="-s"; fi

python_bin="$(command -v python3.11 || command -v python3 || true)"
missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
if [ -z "$python_bin" ]; then
  missing+=(python3 python3-venv)
elif ! "$python_bin" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if ! command -v npm >/dev/null 2>&1; then
  # Debian's npm depends on Debian's nodejs; a nodejs without npm from elsewhere conflicts with it.
  missing+=(npm)
fi
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: nothing missing"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "system packages: run as root to install: ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq $simulate "${missing[@]}"
