"""Running libnftables JSON batches for the agent, in this or another network namespace.

Wraps the CNI's `vfpnet.linux.nftables.Nft` (libnftables through ctypes): one call is one
batch, which nftables applies atomically. libnftables binds its netlink socket when the
context is created, so a context for another namespace is created inside it.
"""

from __future__ import annotations

from typing import Any, Protocol

from vfpnet.agent.driver import DataplaneError
from vfpnet.linux.nftables import Nft, NftError


class NftRunner(Protocol):
    def run(self, commands: list[dict[str, Any]]) -> Any: ...


class LibNft:
    """libnftables in the caller's namespace, or in the named one (`/run/netns/NAME`)."""

    def __init__(self, netns: str | None = None) -> None:
        if netns:
            from vfpnet.linux.netns import NetNS

            with NetNS(f"/run/netns/{netns}"):
                self._nft = Nft()
        else:
            self._nft = Nft()

    def run(self, commands: list[dict[str, Any]]) -> Any:
        try:
            return self._nft.run(commands)
        except NftError as exc:
            lines = [line for line in str(exc.strerror or exc).splitlines() if line.strip()]
            found = next((line for line in lines if "Error" in line), lines[0] if lines else "")
            raise DataplaneError(f"nftables: {found or 'batch refused'}") from None

    def close(self) -> None:
        self._nft.close()
