"""CNI ADD/DEL latency: vfpnet (l2bridge) vs Debian's reference `bridge` + `host-local`.

vfpnet is timed two ways in the same rounds: through `vfpnet cni serve` (the native front
hands the call to warm workers: how a node runs it) and without a server (the front
execs a fresh interpreter: VFPNET_CNI_SOCKET=off).

Same machine, same run, interleaved rounds (the order alternates each round so neither
side always runs on a warmer cache). Everything happens in namespaces this script
creates: a node namespace the plugins run in (this process enters it with setns, so
the timing is the plugin's own, without `ip netns exec`) and one pod namespace per
round and plugin. Prints a table of median and p95 in milliseconds.

    .venv/bin/python bench/cni_latency.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vfpnet.linux.netns import NetNS

REFERENCE_DIR = "/usr/lib/cni"
VFPNET = str(Path(sys.executable).with_name("vfpnet"))


def _subnet6(subnet: str) -> str:
    """The IPv6 twin of 10.244.X.0/24: fd00:244:X::/64 (private, inside our namespaces)."""
    return f"fd00:244:{subnet.split('.')[2]}::/64"


def _conf(name: str, kind: str, subnet: str, tmp: Path, prefix: str,
          mode: str = "l2bridge", version: str = "1.0.0", dual: bool = False) -> bytes:
    ranges: list[list[dict[str, str]]] = [[{"subnet": subnet}]]
    if dual:
        ranges.append([{"subnet": _subnet6(subnet)}])
    conf: dict[str, object] = {
        "cniVersion": version, "name": name, "type": kind,
        "ipam": {"type": "host-local", "ranges": ranges,
                 "dataDir": str(tmp / f"ipam-{kind}")},
    }
    if kind == "bridge":
        conf.update({"bridge": f"{prefix}r", "isGateway": True})
    else:
        conf.update({"mode": mode, "bridge": f"{prefix}o", "stateDir": str(tmp / "state")})
        if mode == "transparent-tunnel":
            conf["gateway"] = "10.244.60.1"  # a private uplink inside the node namespace
    return json.dumps(conf).encode()


def _call(exe: str, command: str, stdin: bytes, cid: str, netns: str,
          extra: dict[str, str]) -> float:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
           "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": REFERENCE_DIR, **extra}
    start = time.perf_counter()
    res = subprocess.run([exe], input=stdin, capture_output=True, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if res.returncode != 0:
        raise SystemExit(f"{exe} {command} failed: {res.stdout.decode()} {res.stderr.decode()}")
    return elapsed


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--all-modes", action="store_true",
                        help="also time vfpnet's transparent and transparent-tunnel modes")
    parser.add_argument("--vfpnet", default=VFPNET,
                        help="the vfpnet executable (default: the one next to this Python)")
    parser.add_argument("--cni-version", default="1.0.0",
                        help="vfpnet's netconf cniVersion (the reference's stays 1.0.0, the "
                             "newest it knows; at 1.1.0 vfpnet hands host-local 1.0.0)")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=EXE",
                        help="also time another vfpnet executable, e.g. an A/B of a change "
                             "in the same interleaved rounds")
    parser.add_argument("--also-mode", default="l2bridge",
                        choices=("l2bridge", "transparent", "transparent-tunnel"),
                        help="the mode the --also executables are timed in")
    parser.add_argument("--dual-stack", action="store_true",
                        help="every network gets an IPv6 range too (fd00:244:X::/64)")
    parser.add_argument("--no-server", action="store_true",
                        help="time vfpnet only without `vfpnet cni serve`")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        print("cni_latency: needs root (creates network namespaces)", file=sys.stderr)
        return 2
    prefix = "vb" + secrets.token_hex(3)
    node = f"{prefix}n"
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    sock = str(tmp / "cni.sock")
    ways = {"no server": {"VFPNET_CNI_SOCKET": "off"}}
    if not opts.no_server:
        ways = {"server": {"VFPNET_CNI_SOCKET": sock}, **ways}
    Plugin = tuple[str, bytes, dict[str, str]]
    plugins: dict[str, Plugin] = {
        "reference": (f"{REFERENCE_DIR}/bridge",
                      _conf(f"{prefix}r", "bridge", "10.244.62.0/24", tmp, prefix,
                            dual=opts.dual_stack), {}),
    }
    tunnels6: list[str] = []  # IPv6 gateways (each subnet's first host) behind the uplink
    modes = ["l2bridge"] + (["transparent", "transparent-tunnel"] if opts.all_modes else [])
    net = 0
    for mode in modes:
        for way, extra in ways.items():
            plugins[f"vfpnet {mode} ({way})"] = (
                opts.vfpnet, _conf(f"{prefix}m{net}", "vfpnet", f"10.244.{63 + net}.0/24", tmp,
                                   prefix, mode, opts.cni_version, opts.dual_stack), extra)
            if mode == "transparent-tunnel":
                tunnels6.append(_subnet6(f"10.244.{63 + net}.0/24").replace("::/64", "::1"))
            net += 1
    for i, spec in enumerate(opts.also):
        label, _, exe = spec.partition("=")
        if not exe:
            parser.error(f"--also {spec!r}: expected NAME=EXE")
        plugins[label] = (exe, _conf(f"{prefix}a{i}", "vfpnet", f"10.244.{80 + i}.0/24",
                                     tmp, prefix, opts.also_mode, opts.cni_version),
                          {"VFPNET_CNI_SOCKET": "off"})
    times: dict[tuple[str, str], list[float]] = {
        (p, c): [] for p in plugins for c in ("ADD", "DEL")
    }
    pods: list[str] = []
    server: subprocess.Popen[bytes] | None = None
    subprocess.run(["ip", "netns", "add", node], check=True)
    try:
        # an uplink with a gateway address for transparent-tunnel (no packets are sent)
        for cmd in (["link", "add", "uplink", "type", "veth", "peer", "name", "uplinkp"],
                    ["addr", "add", "10.244.60.2/24", "dev", "uplink"],
                    ["link", "set", "uplink", "up"], ["link", "set", "uplinkp", "up"]):
            subprocess.run(["ip", "-n", node, *cmd], check=True)
        if opts.dual_stack:
            subprocess.run(["ip", "-n", node, "-6", "addr", "add", "fd00:244:60::2/64", "dev",
                            "uplink", "nodad"], check=True)
            for gateway in tunnels6:
                subprocess.run(["ip", "-n", node, "-6", "route", "add", f"{gateway}/128", "dev",
                                "uplink"], check=True)
        if "server" in ways:
            server = subprocess.Popen([opts.vfpnet, "cni", "serve", "--socket", sock],
                                      stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while not os.path.exists(sock):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("cni_latency: `vfpnet cni serve` did not start")
                time.sleep(0.05)
        with NetNS(f"/var/run/netns/{node}"):
            for rnd in range(opts.rounds + 2):  # two warm-up rounds, not counted
                order = list(plugins) if rnd % 2 == 0 else list(reversed(plugins))
                added = []
                for name in order:
                    pod = f"{prefix}p{len(pods)}"
                    subprocess.run(["ip", "netns", "add", pod], check=True)
                    pods.append(pod)
                    exe, conf, extra = plugins[name]
                    cid = f"c{len(pods)}r{rnd}"
                    t = _call(exe, "ADD", conf, cid, f"/var/run/netns/{pod}", extra)
                    added.append((name, cid, pod))
                    if rnd >= 2:
                        times[(name, "ADD")].append(t)
                for name, cid, pod in added:
                    exe, conf, extra = plugins[name]
                    t = _call(exe, "DEL", conf, cid, f"/var/run/netns/{pod}", extra)
                    if rnd >= 2:
                        times[(name, "DEL")].append(t)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        for pod in pods:
            subprocess.run(["ip", "netns", "del", pod], check=False)
        subprocess.run(["ip", "netns", "del", node], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"CNI latency, {opts.rounds} interleaved rounds, milliseconds "
          f"(vfpnet vs reference bridge; both with host-local IPAM"
          f"{', dual-stack' if opts.dual_stack else ''}; {os.cpu_count()} CPUs)")
    print(f"{'op':<5}{'plugin':<40}{'p50':>8}{'p95':>8}{'p50 ratio':>11}{'p95 ratio':>11}")
    for op in ("ADD", "DEL"):
        ref = times[("reference", op)]
        for name in plugins:
            vals = times[(name, op)]
            p50, p95 = statistics.median(vals), _p95(vals)
            r50, r95 = p50 / statistics.median(ref), p95 / _p95(ref)
            print(f"{op:<5}{name:<40}{p50:8.1f}{p95:8.1f}{r50:10.2f}x{r95:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
