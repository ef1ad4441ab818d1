"""A real runtime: podman (CNI backend) runs containers on vfpnet networks, then removes them.

podman's containers have network namespaces of their own; the "node" is the machine's
root namespace here, so everything node-wide the test causes there (bridges, the
tunnel's nftables table, policy rule and routing table, a veth to a private fabric
namespace, sysctls) is recorded before and removed afterwards. Published ports are
tried on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import VFPNET, get_sysctl, set_sysctl, sh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="podman with the CNI backend needs root"),
    pytest.mark.skipif(shutil.which("podman") is None or shutil.which("runc") is None,
                       reason="podman/runc not installed (scripts/setup-system.sh installs them)"),
    pytest.mark.net,
    pytest.mark.slow,
]

TUNNEL = {"mark": 0x4200000, "table": 4242, "priority": 4242}
FABRIC_IP, NODE_IP = "10.244.251.1", "10.244.251.2"
MODES = {"l2bridge": 181, "transparent": 182, "transparent-tunnel": 183}


class Podman:
    def __init__(self) -> None:
        self.prefix = "vt" + secrets.token_hex(3)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-podman-"))
        self.fabric = f"{self.prefix}f"
        self.sysctls = {k: get_sysctl(None, k) for k in ("net/ipv4/ip_forward",)}
        self.had_tunnel_table = _nft_table_exists()
        self.had_nat_tables = {f: _nft_nat_exists(f) for f in ("ip", "ip6")}
        self.had_hostport_chains = "CNI-HOSTPORT-DNAT" in sh("iptables", "-t", "nat", "-S").stdout
        (self.tmp / "bin").mkdir()
        (self.tmp / "bin" / "vfpnet").symlink_to(VFPNET)
        (self.tmp / "net.d").mkdir()
        (self.tmp / "containers.conf").write_text(
            '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
            f'[network]\nnetwork_backend = "cni"\n'
            f'cni_plugin_dirs = ["{self.tmp / "bin"}", "/usr/lib/cni"]\n')
        rootfs = self.tmp / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
        for applet in ("sh", "ip", "nc", "sleep", "echo"):
            (rootfs / "bin" / applet).symlink_to("busybox")
        sh("tar", "-C", str(rootfs), "-cf", str(self.tmp / "bb.tar"), ".")
        self.run("import", "-q", str(self.tmp / "bb.tar"), "localhost/vtbb:1")
        self._fabric()

    def _fabric(self) -> None:
        """A private router namespace for transparent-tunnel's gateway."""
        sh("ip", "netns", "add", self.fabric)
        sh("ip", "link", "add", f"{self.prefix}g", "type", "veth", "peer", "name", "down0",
           "netns", self.fabric)
        sh("ip", "addr", "add", f"{NODE_IP}/30", "dev", f"{self.prefix}g")
        sh("ip", "link", "set", f"{self.prefix}g", "up")
        for cmd in (("ip", "addr", "add", f"{FABRIC_IP}/30", "dev", "down0"),
                    ("ip", "link", "set", "down0", "up"),
                    ("ip", "route", "add", "10.244.183.0/24", "via", NODE_IP)):
            sh("ip", "netns", "exec", self.fabric, *cmd)
        set_sysctl(self.fabric, "net/ipv4/ip_forward", "1")
        for key in ("net/ipv4/conf/all/send_redirects", "net/ipv4/conf/down0/send_redirects"):
            set_sysctl(self.fabric, key, "0")
        sh("ip", "netns", "exec", self.fabric, "nft", "-f", "-", input=(
            "add table inet count\nadd chain inet count cntfwd {\n"
            " type filter hook forward priority 0\n}\n"
            "add rule inet count cntfwd tcp dport 8080 counter\n"))

    def fabric_packets(self) -> int:
        out = json.loads(sh("ip", "netns", "exec", self.fabric, "nft", "-j", "list", "table",
                            "inet", "count").stdout)
        return sum(e["counter"]["packets"] for item in out["nftables"] if "rule" in item
                   for e in item["rule"]["expr"] if "counter" in e)

    def run(self, *args: str, check: bool = True,
            socket_path: str = "off") -> subprocess.CompletedProcess[str]:
        # libcni hands podman's environment to the plugin: VFPNET_CNI_SOCKET reaches it
        env = dict(os.environ, CONTAINERS_CONF=str(self.tmp / "containers.conf"),
                   VFPNET_CNI_SOCKET=socket_path)
        return subprocess.run(
            ["podman", "--root", str(self.tmp / "root"), "--runroot", str(self.tmp / "run"),
             "--storage-driver", "vfs", "--network-config-dir", str(self.tmp / "net.d"),
             "--runtime", "runc", "--cgroup-manager", "cgroupfs", *args],
            capture_output=True, text=True, env=env, check=check, timeout=120,
        )

    def network(self, mode: str, portmap: bool = False) -> str:
        name = f"{self.prefix}{mode[:2]}{mode[-3:]}"
        octet = MODES[mode]
        plugin: dict[str, object] = {
            "type": "vfpnet", "mode": mode, "bridge": f"{self.prefix}b{octet}",
            "stateDir": str(self.tmp / "state"),
            "ipam": {"type": "host-local", "ranges": [[{"subnet": f"10.244.{octet}.0/24"}]],
                     "dataDir": str(self.tmp / "ipam")},
        }
        if mode == "transparent-tunnel":
            plugin.update(gateway=FABRIC_IP, tunnel=TUNNEL)
        plugins: list[dict[str, object]] = [plugin]
        if portmap:
            plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
        conflist = {"cniVersion": "1.0.0", "name": name, "plugins": plugins}
        (self.tmp / "net.d" / f"{name}.conflist").write_text(json.dumps(conflist))
        return name

    def close(self) -> None:
        self.run("rm", "-a", "-f", "-t", "0", check=False)
        self.run("rmi", "-a", "-f", check=False)
        for octet in MODES.values():
            sh("ip", "link", "del", f"{self.prefix}b{octet}", check=False)
        sh("ip", "link", "del", f"{self.prefix}g", check=False)
        sh("ip", "netns", "del", self.fabric, check=False)
        if not self.had_tunnel_table:
            sh("nft", "delete", "table", "ip", "vfpnet_tunnel", check=False)
        sh("ip", "rule", "del", "fwmark", f"{TUNNEL['mark']:#x}/{TUNNEL['mark']:#x}",
           "lookup", str(TUNNEL["table"]), check=False)
        sh("ip", "route", "flush", "table", str(TUNNEL["table"]), check=False)
        if not self.had_hostport_chains:
            _remove_portmap_chains()
        for family, had in self.had_nat_tables.items():
            if not had:  # iptables-nft made it for portmap; empty now, as before us
                _drop_empty_nat_table(family)
        for key, value in self.sysctls.items():
            set_sysctl(None, key, value)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _remove_portmap_chains() -> None:
    """portmap's shared nat chains, which it never removes itself."""
    for rule in ("PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                 "OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                 "POSTROUTING -m comment --comment 'CNI portfwd requiring masquerade' "
                 "-j CNI-HOSTPORT-MASQ"):
        sh("sh", "-c", f"iptables -t nat -D {rule}", check=False)
    for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
        sh("iptables", "-t", "nat", "-F", chain, check=False)
        sh("iptables", "-t", "nat", "-X", chain, check=False)


def _nft_nat_exists(family: str) -> bool:
    return sh("nft", "list", "table", family, "nat", check=False).returncode == 0


def _drop_empty_nat_table(family: str) -> None:
    """Remove `FAMILY nat` if it holds no rule (only iptables' empty base chains)."""
    listing = sh("nft", "-j", "list", "table", family, "nat", check=False)
    if listing.returncode != 0:
        return
    if any("rule" in item for item in json.loads(listing.stdout)["nftables"]):
        return
    sh("nft", "delete", "table", family, "nat", check=False)


def _nft_table_exists() -> bool:
    return sh("nft", "list", "table", "ip", "vfpnet_tunnel", check=False).returncode == 0


def _per_pod_objects(pm: Podman) -> dict[str, list[str]]:
    links = json.loads(sh("ip", "-j", "link", "show").stdout)
    routes = json.loads(sh("ip", "-j", "route", "show").stdout)
    # the tunnel's one node-wide rule stays by design (no pod's DEL tears it down)
    node_rule = f"lookup {TUNNEL['table']}"
    rules = [r for r in sh("ip", "rule", "show").stdout.splitlines() if node_rule not in r]
    members = sh("nft", "-j", "list", "set", "ip", "vfpnet_tunnel", "pods", check=False)
    elems = []
    if members.returncode == 0:
        for item in json.loads(members.stdout)["nftables"]:
            elems += [json.dumps(e) for e in item.get("set", {}).get("elem", [])]
    ipam = [p.name for p in (pm.tmp / "ipam").rglob("10.244.*")] if (pm.tmp / "ipam").exists() \
        else []
    return {
        "links": sorted(li["ifname"] for li in links if li["ifname"].startswith("vfp")),
        "pod_routes": sorted(r["dst"] for r in routes if r["dst"].startswith("10.244.18")
                             and "/" not in r["dst"]),
        "rules": sorted(rules),
        "set_members": sorted(elems),
        "ipam": sorted(ipam),
        "records": sorted(p.name for p in (pm.tmp / "state").rglob("*.json")),
    }


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    pm = Podman()
    try:
        yield pm
    finally:
        pm.close()


def _ip_of(pm: Podman, name: str) -> str:
    out = pm.run("exec", name, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    return out.split("inet ")[1].split("/")[0]


@pytest.mark.parametrize("mode", list(MODES))
def test_containers_talk_tcp_by_ip_and_podman_rm_leaves_nothing(podman: Podman,
                                                                 mode: str) -> None:
    net = podman.network(mode)
    before = _per_pod_objects(podman)
    fabric_before = podman.fabric_packets()
    server = f"{podman.prefix}s{MODES[mode]}"
    podman.run("run", "-d", "--name", server, "--network", net, "localhost/vtbb:1",
               "sh", "-c", "while true; do echo pong | nc -l -p 8080; done")
    try:
        ip = _ip_of(podman, server)
        assert ip.startswith(f"10.244.{MODES[mode]}.")
        during = _per_pod_objects(podman)
        assert len(during["records"]) == len(before["records"]) + 1
        res = podman.run("run", "--rm", "--network", net, "localhost/vtbb:1", "sh", "-c",
                         f"for i in 1 2 3 4 5; do nc -w 2 {ip} 8080 </dev/null && exit 0; "
                         "sleep 0.3; done; exit 1", check=False)
        assert res.returncode == 0 and "pong" in res.stdout, res.stderr
        crossed = podman.fabric_packets() - fabric_before
        # only transparent-tunnel sends same-node container traffic through the gateway
        assert (crossed > 0) == (mode == "transparent-tunnel"), crossed
    finally:
        podman.run("rm", "-f", "-t", "0", server)
    after = _per_pod_objects(podman)
    assert after == before


def test_portmap_chained_after_vfpnet_publishes_a_port_on_loopback(podman: Podman) -> None:
    net = podman.network("l2bridge", portmap=True)
    before = _per_pod_objects(podman)
    name = f"{podman.prefix}pm"
    podman.run("run", "-d", "--name", name, "--network", net, "-p", "127.0.0.1:18931:8080",
               "localhost/vtbb:1", "sh", "-c", "while true; do echo mapped | nc -l -p 8080; done")
    try:
        answer = b""
        for _ in range(10):
            try:
                with socket.create_connection(("127.0.0.1", 18931), timeout=2) as conn:
                    answer = conn.recv(16)
                if answer:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert answer == b"mapped\n"
    finally:
        podman.run("rm", "-f", "-t", "0", name)
    assert _per_pod_objects(podman) == before
    nat = sh("iptables", "-t", "nat", "-S").stdout
    assert "18931" not in nat  # portmap's DEL ran in the chain and removed its DNAT


@pytest.mark.skipif(not Path(VFPNET).read_bytes().startswith(b"\x7fELF"),
                    reason="the native vfpnet front is not installed (make setup builds it)")
def test_podman_calls_go_through_the_cni_server(podman: Podman) -> None:
    net = podman.network("transparent-tunnel")
    before = _per_pod_objects(podman)
    sock, log = str(podman.tmp / "cni.sock"), podman.tmp / "cni-server.log"
    with log.open("w") as log_file:
        server = subprocess.Popen([VFPNET, "cni", "serve", "--socket", sock, "--spares", "1"],
                                  stderr=log_file, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        name = f"{podman.prefix}srv"
        podman.run("run", "-d", "--name", name, "--network", net, "localhost/vtbb:1",
                   "sh", "-c", "while true; do echo pong | nc -l -p 8080; done",
                   socket_path=sock)
        try:
            ip = _ip_of(podman, name)
            res = podman.run("run", "--rm", "--network", net, "localhost/vtbb:1", "sh", "-c",
                             f"for i in 1 2 3 4 5; do nc -w 2 {ip} 8080 </dev/null && exit 0; "
                             "sleep 0.3; done; exit 1", check=False, socket_path=sock)
            assert res.returncode == 0 and "pong" in res.stdout, res.stderr
        finally:
            podman.run("rm", "-f", "-t", "0", name, socket_path=sock)
        calls = [line for line in log.read_text().splitlines() if " container=" in line]
        assert sum(" ADD container=" in line for line in calls) == 2, calls
        assert all("exit=0" in line for line in calls), calls
        # DEL may come from conmon's `podman container cleanup`, whose environment is not
        # ours (then the front runs it in-process): nothing is left either way (below)
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
    assert _per_pod_objects(podman) == before
