# Sourced by scripts/serve and scripts/test: make .venv (Python >= 3.11) and install
# the project into it, again only when pyproject.toml or the extras asked for change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python=""
  for candidate in python3 python3.14 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"; break
    fi
  done
  if [ -z "$python" ]; then
    echo "mailbeacon needs Python 3.11 or newer (python3 on PATH is older or missing)" >&2
    exit 1
  fi
  "$python" -m venv .venv
fi
stamp=".venv/.mailbeacon-installed${extras:+-$extras}"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
