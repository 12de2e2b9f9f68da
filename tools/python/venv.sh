#!/usr/bin/env bash
# Creates (or refreshes) the project-local Python venv the Python client suite uses:
# .cache/venv, with the pinned packages of test/clients-python/requirements.txt from PyPI.
# Idempotent: a venv whose recorded requirements match is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
req=test/clients-python/requirements.txt
venv=.cache/venv
stamp="$venv/.requirements"
if [[ -x "$venv/bin/python" && -f "$stamp" ]] && cmp -s "$req" "$stamp"; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
