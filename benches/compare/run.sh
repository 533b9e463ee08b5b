#!/usr/bin/env bash
# Build a throwaway venv with Presidio and detect-secrets (PyPI, first run
# only), then run compare.py with this script's arguments, e.g.
#   benches/compare/run.sh --corpus benches/data/corpus.txt \
#     --labels benches/data/labels.jsonl --privctl target/release/privctl
#
# Environment: BENCH_VENV (default benches/.venv), PYTHON (default python3,
# must be CPython 3.11-3.14 for presidio-analyzer).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${BENCH_VENV:-$here/../.venv}"
python="${PYTHON:-python3}"
requirements="$here/requirements.txt"
stamp="$venv/.compare-requirements.txt"

if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 15))'; then
    echo "run.sh: $python is not Python 3.11-3.14; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi

# Reinstall only when the venv is missing or requirements.txt changed.
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
    echo "run.sh: creating venv in $venv (needs PyPI) ..." >&2
    if [[ -e "$venv" && ! -f "$venv/pyvenv.cfg" ]]; then
        echo "run.sh: refusing to replace $venv: it is not a venv" >&2
        exit 2
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

exec "$venv/bin/python" "$here/compare.py" "$@"
