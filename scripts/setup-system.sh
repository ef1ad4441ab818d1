#!/usr/bin/env bash
# Installs the Debian packages vfpnet's tests and demo use, once (skips what is there).
# Run as root on Debian 12; `make test` and `make demo` call it.
set -euo pipefail
packages=(
  iproute2 nftables libnftables1 iputils-ping conntrack procps  # the Linux dataplane
  iptables                                                # portmap (chained after vfpnet) writes iptables nat rules
  podman runc containernetworking-plugins busybox-static  # a real runtime + reference CNI plugins
  etcd-server                                             # the etcd datastore
  openssl                                                 # test certificates (kubernetes datastore over TLS)
  chromium                                                # screenshot of the lab's HTML page
  gcc libc6-dev                                           # the native `vfpnet` front (native/vfpnet-shim.c)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-system: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# podman with the CNI backend, as TESTBED.md says (crun fails on hybrid cgroups; runc works).
if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'network_backend = "cni"' /etc/containers/containers.conf; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
CONF
fi
