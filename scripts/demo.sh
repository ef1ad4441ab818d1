#!/usr/bin/env bash
# The demo: until the lab lands, the policy analysis on the example cluster in examples/reach.
set -euo pipefail
venv=${1:-.venv}
"$venv/bin/vfpnet" --help
