"""A node, a fabric router and pods as network namespaces, and the plugin run inside the node.

Topology (all inside namespaces this module creates; nothing touches the root namespace):

    pod netns --veth-- NODE netns (the plugin runs here) --uplink-- FABRIC netns
                         10.244.250.2/24 on `uplink`        10.244.250.1/24, routes the
                                                             pod subnet back to the node;
                                                             its own nftables is the NSG

Everything is named with a random `vt<hex>` prefix and removed by `close()`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

VFPNET = str(Path(sys.executable).with_name("vfpnet"))
CNI_PATH = "/usr/lib/cni"
UPLINK_NODE = "10.244.250.2"
UPLINK_FABRIC = "10.244.250.1"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="creates network namespaces, veths and nftables: needs root"
)


def sh(
    *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, input=input)


def in_ns(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *args, check=check)


def set_sysctl(ns: str | None, key: str, value: str) -> None:
    """Write /proc/sys/<key> in namespace `ns` (None: this one); no procps needed."""
    cmd = ["sh", "-c", f"echo {value} > /proc/sys/{key}"]
    sh(*(["ip", "netns", "exec", ns, *cmd] if ns else cmd))


def get_sysctl(ns: str | None, key: str) -> str:
    cmd = ["cat", f"/proc/sys/{key}"]
    return sh(*(["ip", "netns", "exec", ns, *cmd] if ns else cmd)).stdout.strip()


class Lab:
    def __init__(self, subnet_octet: int) -> None:
        self.prefix = "vt" + secrets.token_hex(3)
        self.node = f"{self.prefix}n"
        self.fabric = f"{self.prefix}f"
        self.subnet = f"10.244.{subnet_octet}.0/24"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.state_dir = self.tmp / "state"
        self.ipam_dir = self.tmp / "ipam"
        self.pods: list[str] = []
        self._procs: list[subprocess.Popen[str]] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        for ns in (self.node, self.fabric):
            sh("ip", "netns", "add", ns)
            in_ns(ns, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", f"{self.prefix}u", "netns", self.node, "type", "veth",
           "peer", "name", "down0", "netns", self.fabric)
        in_ns(self.node, "ip", "link", "set", f"{self.prefix}u", "name", "uplink")
        in_ns(self.node, "ip", "addr", "add", f"{UPLINK_NODE}/24", "dev", "uplink")
        in_ns(self.node, "ip", "link", "set", "uplink", "up")
        in_ns(self.node, "ip", "route", "add", "default", "via", UPLINK_FABRIC)
        in_ns(self.fabric, "ip", "addr", "add", f"{UPLINK_FABRIC}/24", "dev", "down0")
        in_ns(self.fabric, "ip", "link", "set", "down0", "up")
        in_ns(self.fabric, "ip", "route", "add", self.subnet, "via", UPLINK_NODE)
        for key in ("net/ipv4/ip_forward", "net/ipv4/conf/all/send_redirects",
                    "net/ipv4/conf/down0/send_redirects"):
            set_sysctl(self.fabric, key, "0" if "redirects" in key else "1")

    # -- pods and the plugin -------------------------------------------------------
    def pod(self) -> str:
        name = f"{self.prefix}p{len(self.pods)}"
        sh("ip", "netns", "add", name)
        self.pods.append(name)
        return name

    def netconf(self, mode: str, **extra: object) -> dict[str, object]:
        conf: dict[str, object] = {
            "cniVersion": "1.0.0", "name": f"{self.prefix}net", "type": "vfpnet", "mode": mode,
            "bridge": f"{self.prefix}br", "stateDir": str(self.state_dir),
            "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                     "dataDir": str(self.ipam_dir)},
        }
        if mode == "transparent-tunnel":
            conf["gateway"] = UPLINK_FABRIC
        conf.update(extra)
        return conf

    def env(self, command: str, container: str, pod: str | None, ifname: str = "eth0",
            **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
        # the plugin in-process, never a `vfpnet cni serve` that happens to run on this
        # machine (tests/cni/test_cni_server.py runs its own and names it)
        env["VFPNET_CNI_SOCKET"] = "off"
        env.update({"CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": ifname,
                    "CNI_PATH": CNI_PATH,
                    "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME={container}"})
        if pod:
            env["CNI_NETNS"] = f"/var/run/netns/{pod}"
        env.update(extra)
        return env

    def run(self, command: str, conf: dict[str, object], container: str, pod: str | None,
            ifname: str = "eth0", **extra: str) -> tuple[int, dict[str, object] | None]:
        """Run the plugin inside the node; (exit status, parsed stdout or None)."""
        res = subprocess.run(
            ["ip", "netns", "exec", self.node, VFPNET], input=json.dumps(conf),
            capture_output=True, text=True, env=self.env(command, container, pod, ifname, **extra),
            timeout=60,
        )
        assert "Traceback" not in res.stdout + res.stderr, res.stderr
        out = json.loads(res.stdout) if res.stdout.strip() else None
        return res.returncode, out

    def add(self, conf: dict[str, object], container: str, pod: str,
            **extra: str) -> dict[str, object]:
        rc, out = self.run("ADD", conf, container, pod, **extra)
        assert rc == 0 and out is not None, out
        return out

    def delete(self, conf: dict[str, object], container: str, pod: str | None,
               **extra: str) -> None:
        rc, out = self.run("DEL", conf, container, pod, **extra)
        assert rc == 0, out

    # -- what is left --------------------------------------------------------------
    def leftovers(self) -> dict[str, list[str]]:
        """Per-pod objects still present in the node, the IPAM store and the state dir."""
        links = json.loads(in_ns(self.node, "ip", "-j", "link", "show").stdout)
        routes = json.loads(in_ns(self.node, "ip", "-j", "route", "show").stdout)
        members = []
        nft = in_ns(self.node, "nft", "-j", "list", "set", "ip", "vfpnet_tunnel", "pods",
                    check=False)
        if nft.returncode == 0:
            for item in json.loads(nft.stdout)["nftables"]:
                members += [str(e) for e in item.get("set", {}).get("elem", [])]
        ipam_files = []
        if self.ipam_dir.exists():
            ipam_files = [p.name for p in self.ipam_dir.rglob("*") if p.is_file()
                          and p.name != "lock" and not p.name.startswith("last_reserved_ip")]
        records = [p.name for p in self.state_dir.rglob("*.json")]
        return {
            "links": [link["ifname"] for link in links if link["ifname"].startswith("vfp")],
            "host_routes": [r["dst"] for r in routes if r["dst"].startswith("10.244.")
                            and r["dst"].count("/") == 0],
            "set_members": members,
            "ipam_allocations": ipam_files,
            "records": records,
        }

    def assert_clean(self) -> None:
        left = self.leftovers()
        assert all(not v for v in left.values()), left

    # -- traffic -------------------------------------------------------------------
    def serve(self, pod: str, kind: str, port: int) -> None:
        """A TCP 'ok' responder or a UDP echo server in `pod`, stopped by close()."""
        code = SERVERS[kind].replace("PORT", str(port))
        proc = subprocess.Popen(["ip", "netns", "exec", pod, sys.executable, "-c", code],
                                stdout=subprocess.PIPE, text=True)
        self._procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"

    def tcp_ok(self, pod: str, address: str, port: int, attempts: int = 3,
               timeout: float = 1.0) -> bool:
        code = TCP_CLIENT.format(address=address, port=port, timeout=timeout)
        for _ in range(attempts):
            res = in_ns(pod, sys.executable, "-c", code, check=False)
            if res.stdout.strip() == "ok":
                return True
            time.sleep(0.2)
        return False

    def tcp_failed(self, pod: str, address: str, port: int, count: int) -> int:
        """How many of `count` sequential TCP connections (each fetching 'ok') failed."""
        code = TCP_MANY.format(address=address, port=port, count=count)
        return int(in_ns(pod, sys.executable, "-c", code).stdout.strip())

    def udp_lost(self, pod: str, address: str, port: int, count: int) -> int:
        code = UDP_CLIENT.format(address=address, port=port, count=count)
        return int(in_ns(pod, sys.executable, "-c", code).stdout.strip())

    def nsg_drop(self, src: str, dst: str) -> None:
        """The fabric's NSG: drop forwarded src -> dst."""
        rules = ("add table inet nsg\n"
                 "add chain inet nsg nsgfwd {\n type filter hook forward priority 0\n}\n"
                 f"add rule inet nsg nsgfwd ip saddr {src} ip daddr {dst} drop\n")
        sh("ip", "netns", "exec", self.fabric, "nft", "-f", "-", input=rules)

    def nsg_clear(self) -> None:
        in_ns(self.fabric, "nft", "delete", "table", "inet", "nsg", check=False)

    def close(self) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()
        for ns in [*self.pods, self.node, self.fabric]:
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


SERVERS = {
    "tcp": """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT)); s.listen(64); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"ok"); c.close()
""",
    "udp": """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", PORT))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(2048); s.sendto(data, peer)
""",
}

TCP_CLIENT = """
import socket
try:
    c = socket.create_connection(("{address}", {port}), timeout={timeout})
    c.settimeout({timeout}); print(c.recv(2).decode())
except OSError:
    print("fail")
"""

TCP_MANY = """
import socket
failed = 0
for i in range({count}):
    try:
        c = socket.create_connection(("{address}", {port}), timeout=1.0)
        c.settimeout(1.0)
        failed += c.recv(2) != b"ok"
        c.close()
    except OSError:
        failed += 1
print(failed)
"""

UDP_CLIENT = """
import os, socket
lost = 0
for i in range({count}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
    payload = os.urandom(8)
    s.sendto(payload, ("{address}", {port}))
    try:
        while s.recv(64) != payload:
            pass
    except OSError:
        lost += 1
    s.close()
print(lost)
"""


def pod_ip(result: dict[str, object]) -> str:
    ips = result["ips"]
    assert isinstance(ips, list)
    return str(ips[0]["address"]).split("/")[0]
