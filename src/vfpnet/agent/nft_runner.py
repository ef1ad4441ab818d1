"""Running libnftables JSON batches: the `nft` command, optionally in a network namespace.

A seam: the CNI's `vfpnet.linux.nftables.Nft` (libnftables through ctypes) replaces this
once it is on main. One call is one batch, which nftables applies atomically.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, Protocol

from vfpnet.agent.driver import DataplaneError


class NftRunner(Protocol):
    def run(self, commands: list[dict[str, Any]]) -> Any: ...


class NftCommand:
    """`nft -j -f -`, in network namespace `netns` when given."""

    def __init__(self, netns: str | None = None) -> None:
        self.prefix = ["ip", "netns", "exec", netns] if netns else []

    def run(self, commands: list[dict[str, Any]]) -> Any:
        payload = json.dumps({"nftables": commands})
        done = subprocess.run(
            [*self.prefix, "nft", "-j", "-f", "-"],
            input=payload, capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            message = done.stderr.strip().splitlines()
            raise DataplaneError(f"nftables: {message[0] if message else 'nft failed'}")
        return json.loads(done.stdout) if done.stdout.strip() else None
