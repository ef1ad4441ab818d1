"""The values the protocol core hands a backend and gets back (see `vfpnet.cni.backend`)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vfpnet.cni.netconf import NetConf, RuntimeArgs


class Request:
    """One invocation: parsed netconf, runtime args and the raw stdin (for delegation)."""

    __slots__ = ("args", "conf", "stdin")

    def __init__(self, conf: NetConf, args: RuntimeArgs, stdin: bytes) -> None:
        self.conf = conf
        self.args = args
        self.stdin = stdin


class Added:
    """What ADD made: the 1.x result parts and the backend's state to record."""

    __slots__ = ("interfaces", "ips", "routes", "state")

    def __init__(self, interfaces: list[dict[str, object]], ips: list[dict[str, object]],
                 routes: list[dict[str, object]], state: dict[str, object]) -> None:
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.state = state
