"""Fault injection for the HNS emulator: fail the Nth call of an operation with an HRESULT.

A fault plan is `OPERATION:N:HRESULT[,OPERATION:N:HRESULT...]`, e.g.
`create_endpoint:1:0x803B0002,add_route:2:HCN_E_INVALID_IP`. It comes from
- `Emulator.inject_fault(operation, nth, hresult)`: stored as a row of the state file, so it
  counts calls made by every process on that file (e.g. a CNI plugin run by a runtime);
- the environment variable VFPNET_HNS_FAULTS: counts the calls of this process only.
Each fault fires once, on the Nth call counted from when it was set, then is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from vfpnet.hns.errors import parse_hresult

ENV_VAR = "VFPNET_HNS_FAULTS"

# Every operation of the client protocol that can be made to fail.
OPERATIONS = (
    "create_network",
    "get_network",
    "list_networks",
    "modify_network",
    "delete_network",
    "create_endpoint",
    "get_endpoint",
    "list_endpoints",
    "modify_endpoint",
    "delete_endpoint",
    "create_namespace",
    "get_namespace",
    "list_namespaces",
    "modify_namespace",
    "delete_namespace",
    "attach_endpoint",
    "detach_endpoint",
    "add_route",
    "delete_route",
    "list_routes",
)

# The HNS v1 calls (HNSCall `/networks/...`, `/endpoints/...`): kept apart so OPERATIONS
# stays the HCN v2 protocol plus host routes; a fault plan may name either.
V1_OPERATIONS = (
    "create_network_v1",
    "get_network_v1",
    "list_networks_v1",
    "delete_network_v1",
    "create_endpoint_v1",
    "get_endpoint_v1",
    "list_endpoints_v1",
    "delete_endpoint_v1",
    "attach_container",
    "detach_container",
)


MAX_NTH = 2**63 - 1  # the largest SQLite INTEGER: faults are rows of the state file


@dataclass(frozen=True)
class Fault:
    operation: str
    nth: int
    hresult: int


def fault(operation: str, nth: int, hresult: int | str) -> Fault:
    """A checked Fault; ValueError names what is wrong."""
    if operation not in OPERATIONS and operation not in V1_OPERATIONS:
        known = ", ".join(OPERATIONS + V1_OPERATIONS)
        raise ValueError(f"unknown operation {operation!r}; one of: {known}")
    if not 1 <= nth <= MAX_NTH:
        raise ValueError(f"N must be 1 to {MAX_NTH}, got {nth}")
    code = parse_hresult(hresult) if isinstance(hresult, str) else hresult
    return Fault(operation, nth, code)


def parse_fault_plan(text: str) -> list[Fault]:
    """Faults from `OPERATION:N:HRESULT,...`; ValueError naming the bad item."""
    faults: list[Fault] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            raise ValueError(f"{ENV_VAR}: {item!r} is not OPERATION:N:HRESULT")
        try:
            faults.append(fault(parts[0].strip(), int(parts[1]), parts[2].strip()))
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}: {item!r}: {exc}") from None
    return faults
