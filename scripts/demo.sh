#!/usr/bin/env bash
# The demo: until the lab lands, the policy analysis on the example cluster in examples/reach
# (3 namespaces, 8 workloads, NetworkPolicies, ClusterNetworkPolicies, an ANP and the BANP).
set -euo pipefail
venv=${1:-.venv}
vfpnet="$venv/bin/vfpnet"
example=examples/reach

echo "== vfpnet reach -f $example --workloads-only   (rows: sources, columns: destinations)"
"$vfpnet" reach -f "$example" --workloads-only
echo
echo "== vfpnet explain -f $example --from monitoring/debug --to backend/api --port 9090"
"$vfpnet" explain -f "$example" --from monitoring/debug --to backend/api --port 9090
echo
echo "== vfpnet explain -f $example --from monitoring/prometheus --to backend/db --port 9187"
"$vfpnet" explain -f "$example" --from monitoring/prometheus --to backend/db --port 9187
