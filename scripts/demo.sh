#!/usr/bin/env bash
# The demo: a mixed cluster on this machine (examples/lab: 2 Linux nodes, 1 Windows-twin
# node, 3 namespaces, 15 pods, NetworkPolicies, ClusterNetworkPolicies, a cloud NSG),
# wired by the vfpnet CNI, policed by the vfpnet agent, probed pod pair by pod pair with
# real connections; the packets, the policy (+ NSG) and the VFP model must agree.
# Leaves nothing behind: the lab is removed on exit, also on failure.
set -euo pipefail
venv=${1:-.venv}
vfpnet="$(cd "$venv/bin" && pwd)/vfpnet"
export VFPNET_LAB_DIR=${VFPNET_LAB_DIR:-/run/vfpnet-lab-demo}
html=${DEMO_HTML:-/tmp/vfpnet-lab-demo.html}
start=$(date +%s)

cleanup() { "$vfpnet" lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup  # an earlier demo that was killed

echo "== vfpnet lab up -f examples/lab/cluster.yaml"
"$vfpnet" lab up -f examples/lab/cluster.yaml
"$vfpnet" lab status
echo
echo "== vfpnet lab probe   (every ordered pod pair, every declared port, real connections)"
status=0
"$vfpnet" lab probe --html "$html" || status=$?
echo
echo "The NSG rule deny-web2-to-cache blocks shop/web-2 -> data/cache although both run on"
echo "win1: they are transparent-tunnel pods, so their traffic leaves the node (N above)."
echo "deny-api2-to-db names shop/api-2 -> data/db on lin2 (l2bridge): that traffic never"
echo "leaves the node, and the policies allow it (A above)."
echo
echo "== vfpnet lab down"
"$vfpnet" lab down
trap - EXIT
echo "HTML page: $html"
echo "demo took $(( $(date +%s) - start )) s"
exit "$status"
