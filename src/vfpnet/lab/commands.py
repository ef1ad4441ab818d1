"""Running the system's tools (ip, nft, sysctl) inside the lab's namespaces."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from vfpnet.errors import VfpnetError


class LabError(VfpnetError):
    """A step of building or probing the lab failed (the message names the step)."""


Completed = subprocess.CompletedProcess[str]


def run(*args: str, input: str | None = None, check: bool = True,
        env: dict[str, str] | None = None, timeout: float = 60.0) -> Completed:
    try:
        res = subprocess.run(args, input=input, capture_output=True, text=True, env=env,
                             timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(args[:6])}: {exc}") from None
    if check and res.returncode != 0:
        detail = (res.stderr or res.stdout).strip().splitlines()
        raise LabError(f"{' '.join(args[:8])}: {detail[-1] if detail else 'failed'}")
    return res


def in_ns(netns: str, *args: str, input: str | None = None, check: bool = True,
          env: dict[str, str] | None = None, timeout: float = 60.0) -> Completed:
    return run("ip", "netns", "exec", netns, *args, input=input, check=check, env=env,
               timeout=timeout)


def nft_apply(netns: str, commands: list[dict[str, Any]]) -> None:
    """Apply an nftables JSON batch inside a namespace (one transaction)."""
    in_ns(netns, "nft", "-j", "-f", "-", input=json.dumps({"nftables": commands}))


def sysctl(netns: str, *settings: str) -> None:
    in_ns(netns, "sysctl", "-qw", *settings)


def netns_list() -> list[str]:
    res = run("ip", "-j", "netns", "list", check=False)
    if res.returncode != 0 or not res.stdout.strip():
        return []
    return [str(item["name"]) for item in json.loads(res.stdout)]
