"""The lab as a container runtime: pod sandboxes, CNI calls, the responder.

The CNI plugin is the `vfpnet` executable, run inside the node's namespace with the CNI_*
variables and the network configuration on stdin, exactly as containerd runs it; the lab
knows nothing of how it wires a pod. Each (node, mode) pair is one network (its own
host-local range inside the node's subnet, so two modes on one node never share an
address).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vfpnet.lab.commands import LabError, in_ns
from vfpnet.lab.config import ClusterConfig, NodeConfig
from vfpnet.lab.placement import PodSpec
from vfpnet.lab.topology import node_ns

CNI_PATH = "/usr/lib/cni"
CNI_ENV = "VFPNET_LAB_CNI"  # the plugin executable; default: `vfpnet` beside this Python
# Host parts of the node's /24 per mode: addresses in different networks never collide.
MODE_RANGES = {"transparent-tunnel": (10, 99), "transparent": (100, 169), "l2bridge": (170, 250)}
MODE_TAGS = {"transparent-tunnel": "tt", "transparent": "tr", "l2bridge": "l2"}


def cni_executable() -> str:
    return os.environ.get(CNI_ENV) or str(Path(sys.executable).with_name("vfpnet"))


def node_dir(root: Path, node: str) -> Path:
    return root / "nodes" / node


def netconf(prefix: str, root: Path, config: ClusterConfig, node: NodeConfig,
            mode: str) -> dict[str, Any]:
    subnet = node.subnet(config.vnet)
    lo, hi = MODE_RANGES[mode]
    base = subnet.network_address
    fabric_ip, _ = node.uplink(config.vnet)
    conf: dict[str, Any] = {
        "cniVersion": "1.1.0",
        "name": f"{prefix}-{MODE_TAGS[mode]}",
        "type": "vfpnet",
        "mode": mode,
        "backend": "hns" if node.os == "windows" else "linux",
        "bridge": f"{prefix}br",
        "stateDir": str(node_dir(root, node.name) / "cni"),
        "ipam": {
            "type": "host-local",
            "dataDir": str(node_dir(root, node.name) / "ipam"),
            "ranges": [[{
                "subnet": str(subnet),
                "rangeStart": str(base + lo),
                "rangeEnd": str(base + hi),
                "gateway": str(base + 1),
            }]],
        },
    }
    if mode == "transparent-tunnel" and node.os == "linux":
        # The fabric is every node's gateway: tunnelled pod traffic goes there first.
        conf["gateway"] = fabric_ip
    else:
        conf["gateway"] = str(base + 1)
    if node.os == "windows":
        conf["hns"] = {"api": "v2", "state": str(node_dir(root, node.name) / "hns.db")}
    return conf


def cni_env(command: str, container: str, netns_path: str, pod: PodSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
    env.update({
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container,
        "CNI_NETNS": netns_path,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": CNI_PATH,
        "CNI_ARGS": (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={pod.namespace};"
                     f"K8S_POD_NAME={pod.name};K8S_POD_INFRA_CONTAINER_ID={container}"),
    })
    return env


def cni_add(prefix: str, conf: dict[str, Any], container: str, netns_path: str,
            pod: PodSpec) -> dict[str, Any]:
    """Run ADD in the pod's node; the CNI result, or LabError with the plugin's message."""
    res = in_ns(node_ns(prefix, pod.node), cni_executable(), input=json.dumps(conf),
                env=cni_env("ADD", container, netns_path, pod), check=False, timeout=60)
    try:
        out = json.loads(res.stdout) if res.stdout.strip() else {}
    except json.JSONDecodeError:
        out = {}
    if res.returncode != 0 or "ips" not in out:
        msg = out.get("msg") or (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise LabError(f"pod {pod.id}: CNI ADD on node {pod.node} ({conf['mode']}) failed: "
                       f"{msg}")
    if not isinstance(out, dict):
        raise LabError(f"pod {pod.id}: CNI ADD returned no result object")
    return out


def result_ip(result: dict[str, Any], pod: PodSpec) -> str:
    for ip in result.get("ips") or []:
        addr = str(ip.get("address", "")).split("/")[0]
        try:
            if ipaddress.ip_address(addr).version == 4:
                return addr
        except ValueError:
            continue
    raise LabError(f"pod {pod.id}: CNI result has no IPv4 address")


def hns_namespace(state: Path) -> str:
    """A pod sandbox on a Windows-twin node: an HNS namespace, created as containerd does
    through hcsshim before it calls the CNI with the namespace's GUID as CNI_NETNS."""
    from vfpnet.hns.emulator import Emulator

    emu = Emulator(str(state))
    try:
        doc = emu.create_namespace({"Type": "HostDefault",
                                    "SchemaVersion": {"Major": 2, "Minor": 0}})
    finally:
        emu.close()
    return str(doc["ID"])


def start_responder(prefix: str, netns: str, pod: PodSpec) -> int:
    """Start the pod's responder; its pid once it has bound every port."""
    args: list[str] = []
    for port in pod.ports:
        args += [f"--{port.protocol.lower()}", str(port.port)]
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "vfpnet.lab.responder",
         "--lab", prefix, *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        proc.wait()
        raise LabError(f"pod {pod.id}: responder did not start (ports {args})")
    proc.stdout.close()
    return proc.pid
