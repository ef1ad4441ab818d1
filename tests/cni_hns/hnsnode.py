"""A Windows node's twin for the CNI plugin: an HNS emulator state file, IPAM and state dirs.

The plugin runs as a runtime would run it: the real `vfpnet` executable (a link in a
temporary CNI_PATH next to Debian's host-local and static IPAM plugins), CNI_* in the
environment, the network configuration on stdin. The runtime's part on Windows, creating
the pod's HNS namespace before ADD, is done here through the emulator's API.

Everything lives in one temporary directory with a `vt<hex>` prefix, removed by `close()`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from vfpnet.hns.emulator import Emulator

VFPNET = Path(sys.executable).with_name("vfpnet")
REFERENCE = Path("/usr/lib/cni")
SUBNET = "10.240.0.0/24"
SUBNET6 = "fd00:240::/64"


class HnsNode:
    def __init__(self, version: str | None = None) -> None:
        self.prefix = "vt" + secrets.token_hex(3)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        try:
            self.bin = self.tmp / "bin"
            self.bin.mkdir()
            for plugin in ("host-local", "static"):
                (self.bin / plugin).symlink_to(REFERENCE / plugin)
            (self.bin / "vfpnet").symlink_to(VFPNET)
            self.hns_state = self.tmp / "hns.db"
            self.state_dir = self.tmp / "state"
            self.ipam_dir = self.tmp / "ipam"
            self.network = f"{self.prefix}net"
            self.hns = Emulator(str(self.hns_state), version=version)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def close(self) -> None:
        self.hns.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- what a runtime does ---------------------------------------------------------
    def namespace(self) -> str:
        """A pod's HNS namespace, as containerd creates it before calling the plugin."""
        return str(self.hns.create_namespace({})["ID"])

    def netconf(self, mode: str = "transparent-tunnel", *, dual_stack: bool = False,
                **extra: Any) -> dict[str, Any]:
        ranges: list[list[dict[str, str]]] = [[{"subnet": SUBNET}]]
        if dual_stack:
            ranges.append([{"subnet": SUBNET6}])
        conf: dict[str, Any] = {
            "cniVersion": "1.1.0", "name": self.network, "type": "vfpnet", "mode": mode,
            "backend": "hns", "hns": {"api": "v2", "state": str(self.hns_state)},
            "stateDir": str(self.state_dir),
            "ipam": {"type": "host-local", "ranges": ranges, "dataDir": str(self.ipam_dir)},
        }
        conf.update(extra)
        return conf

    def run(self, command: str, conf: dict[str, Any], container: str, netns: str | None,
            ifname: str = "eth0", **env_extra: str) -> tuple[int, dict[str, Any] | None]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
        env["VFPNET_CNI_SOCKET"] = "off"  # in-process, never a server that happens to run here
        env.update({
            "CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": ifname,
            "CNI_PATH": str(self.bin),
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod-{container}",
        })
        if netns is not None:
            env["CNI_NETNS"] = netns
        env.update(env_extra)
        res = subprocess.run([str(self.bin / "vfpnet")], input=json.dumps(conf),
                             capture_output=True, text=True, env=env, timeout=120)
        assert "Traceback" not in res.stdout + res.stderr, res.stderr
        out = json.loads(res.stdout) if res.stdout.strip() else None
        return res.returncode, out

    def add(self, conf: dict[str, Any], container: str, netns: str,
            **env_extra: str) -> dict[str, Any]:
        rc, out = self.run("ADD", conf, container, netns, **env_extra)
        assert rc == 0 and out is not None, out
        return out

    def delete(self, conf: dict[str, Any], container: str, netns: str | None) -> None:
        rc, out = self.run("DEL", conf, container, netns)
        assert rc == 0, out

    def start(self, command: str, conf: dict[str, Any], container: str, netns: str,
              **env_extra: str) -> subprocess.Popen[str]:
        """The plugin started in the background (a test kills it at a fault pause)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
        env["VFPNET_CNI_SOCKET"] = "off"
        env.update({"CNI_COMMAND": command, "CNI_CONTAINERID": container,
                    "CNI_IFNAME": "eth0", "CNI_PATH": str(self.bin), "CNI_NETNS": netns})
        env.update(env_extra)
        proc = subprocess.Popen([str(self.bin / "vfpnet")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(conf))
        proc.stdin.close()
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    # -- what is there ---------------------------------------------------------------
    def endpoints(self) -> list[dict[str, Any]]:
        return self.hns.list_endpoints()

    def routes(self) -> list[tuple[str, str]]:
        return [(r.destination_prefix, r.next_hop) for r in self.hns.list_routes()]

    def allocations(self) -> list[str]:
        """Addresses host-local holds (files named by an address in its data dir)."""
        out = []
        if self.ipam_dir.exists():
            for path in self.ipam_dir.rglob("*"):
                try:
                    ipaddress.ip_address(path.name)
                except ValueError:
                    continue
                out.append(path.name)
        return sorted(out)

    def records(self) -> list[dict[str, Any]]:
        folder = self.state_dir / self.network / "endpoints"
        if not folder.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]

    def record_path(self, container: str, ifname: str = "eth0") -> Path:
        return self.state_dir / self.network / "endpoints" / f"{container}:{ifname}.json"

    def leftovers(self) -> dict[str, list[Any]]:
        """Per-pod objects still present: endpoints, host routes, IP allocations, records."""
        return {
            "endpoints": [e["Name"] for e in self.endpoints()],
            "routes": self.routes(),
            "allocations": self.allocations(),
            "records": [r["containerID"] for r in self.records()],
        }


NOTHING: dict[str, list[Any]] = {"endpoints": [], "routes": [], "allocations": [], "records": []}
