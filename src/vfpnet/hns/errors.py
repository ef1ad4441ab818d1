"""HNS's errors: HRESULTs, their symbolic names and the messages HNS answers with.

Values and messages are those of winerror.h / Microsoft's "HCN Error Code" reference.
`HcnError.code` is the value as hcsshim reports it: HCN's own codes as the full HRESULT
(0x803B0010), Win32 errors wrapped with HRESULT_FROM_WIN32 as the bare Win32 code (0x490),
because hcsshim's generated syscall stubs unwrap facility-7 HRESULTs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vfpnet.errors import VfpnetError

# name -> (HRESULT, message)
HRESULTS: dict[str, tuple[int, str]] = {
    "HCN_E_NETWORK_NOT_FOUND": (0x803B0001, "The network was not found."),
    "HCN_E_ENDPOINT_NOT_FOUND": (0x803B0002, "The endpoint was not found."),
    "HCN_E_LAYER_NOT_FOUND": (0x803B0003, "The network's underlying layer was not found."),
    "HCN_E_SWITCH_NOT_FOUND": (0x803B0004, "The virtual switch was not found."),
    "HCN_E_SUBNET_NOT_FOUND": (
        0x803B0005,
        "The network does not have a subnet for this endpoint.",
    ),
    "HCN_E_ADAPTER_NOT_FOUND": (0x803B0006, "An adapter was not found."),
    "HCN_E_PORT_NOT_FOUND": (0x803B0007, "The switch-port was not found."),
    "HCN_E_POLICY_NOT_FOUND": (0x803B0008, "An expected policy was not found."),
    "HCN_E_INVALID_NETWORK": (
        0x803B000A,
        "The provided network configuration is invalid or missing parameters.",
    ),
    "HCN_E_INVALID_NETWORK_TYPE": (0x803B000B, "Invalid network type."),
    "HCN_E_INVALID_ENDPOINT": (
        0x803B000C,
        "The provided endpoint configuration is invalid or missing parameters.",
    ),
    "HCN_E_INVALID_POLICY": (
        0x803B000D,
        "The provided policy configuration is invalid or missing parameters.",
    ),
    "HCN_E_INVALID_POLICY_TYPE": (0x803B000E, "Invalid policy type."),
    "HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION": (
        0x803B000F,
        "This requested operation is invalid for a remote endpoint.",
    ),
    "HCN_E_NETWORK_ALREADY_EXISTS": (0x803B0010, "A network with this name already exists."),
    "HCN_E_POLICY_ALREADY_EXISTS": (
        0x803B0012,
        "Policy information already exists on this object.",
    ),
    "HCN_E_PORT_ALREADY_EXISTS": (0x803B0013, "The specified port already exists."),
    "HCN_E_ENDPOINT_ALREADY_ATTACHED": (
        0x803B0014,
        "This endpoint is already attached to the switch.",
    ),
    "HCN_E_REQUEST_UNSUPPORTED": (0x803B0015, "The specified request is unsupported."),
    "HCN_E_MAPPING_NOT_SUPPORTED": (
        0x803B0016,
        "Port mapping is not supported on the given network.",
    ),
    "HCN_E_GUID_CONVERSION_FAILURE": (0x803B0019, "Failed to interpret a parameter as a GUID."),
    "HCN_E_INVALID_JSON": (0x803B001B, "Invalid JSON document string."),
    "HCN_E_INVALID_JSON_REFERENCE": (0x803B001C, "The reference is invalid in the JSON document."),
    "HCN_E_INVALID_IP": (
        0x803B001E,
        "IP address is either invalid or not part of any configured subnet(s).",
    ),
    "HCN_E_MANAGER_STOPPED": (
        0x803B0020,
        "Operation cannot be performed while service is stopping.",
    ),
    "HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS": (
        0x803B002B,
        "This requested operation is invalid as endpoint is already part of a network namespace.",
    ),
    "HCN_E_ENTITY_HAS_REFERENCES": (
        0x803B002C,
        "The specified entity cannot be removed while it still has references.",
    ),
    "HCN_E_INVALID_INTERNAL_PORT": (0x803B002D, "The internal port must exist and cannot be zero."),
    "HCN_E_ADDR_INVALID_OR_RESERVED": (0x803B002F, "An address provided is invalid or reserved."),
    "HCN_E_INVALID_PREFIX": (0x803B0030, "The prefix provided is invalid."),
    "HCN_E_INVALID_SUBNET": (
        0x803B0032,
        "The provided subnet configuration is invalid or missing parameters.",
    ),
    "HCN_E_INVALID_IP_SUBNET": (
        0x803B0033,
        "The provided IP subnet configuration is invalid or missing parameters.",
    ),
    "HCN_E_ENDPOINT_NOT_ATTACHED": (
        0x803B0034,
        "The endpoint must be attached to complete the operation.",
    ),
    "HCN_E_ENDPOINT_NOT_LOCAL": (
        0x803B0035,
        "The endpoint must be local to complete the operation.",
    ),
    "E_NOTIMPL": (0x80004001, "Not implemented."),
    "E_INVALIDARG": (0x80070057, "The parameter is incorrect."),
    "ERROR_NOT_FOUND": (0x80070490, "Element not found."),
    "ERROR_OBJECT_ALREADY_EXISTS": (0x80071392, "The object already exists."),
    "ERROR_INVALID_PARAMETER": (0x80070057, "The parameter is incorrect."),
}

_BY_VALUE: dict[int, str] = {}
for _name, (_hr, _msg) in HRESULTS.items():
    _BY_VALUE.setdefault(_hr, _name)


def hresult_name(hresult: int) -> str:
    """The symbolic name of an HRESULT (or its hex form when unknown)."""
    return _BY_VALUE.get(normalize_hresult(hresult), f"0x{hresult:08X}")


def normalize_hresult(value: int) -> int:
    """A full 32-bit HRESULT from either an HRESULT or a bare Win32 error code."""
    value &= 0xFFFFFFFF
    if 0 < value <= 0xFFFF:
        return 0x80070000 | value
    return value


def display_code(hresult: int) -> int:
    """The code as hcsshim shows it: facility-7 (Win32) HRESULTs unwrapped to the Win32 code."""
    hresult = normalize_hresult(hresult)
    if hresult & 0x1FFF0000 == 0x00070000:
        return hresult & 0xFFFF
    return hresult


def parse_hresult(text: str) -> int:
    """An HRESULT from `0x803B0010`, `2151350288`, `HCN_E_NETWORK_ALREADY_EXISTS` or `0x490`."""
    text = text.strip()
    if text.upper() in HRESULTS:
        return HRESULTS[text.upper()][0]
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"not an HRESULT or HCN error name: {text!r}") from None
    # Signed (as Go's int32 prints them) or unsigned 32 bits; wider would be cut silently.
    if not -(2**31) <= value <= 0xFFFFFFFF:
        raise ValueError(f"HRESULT {text!r} does not fit in 32 bits")
    return normalize_hresult(value)


class HcnError(VfpnetError):
    """A call HNS refused: its HRESULT, HNS's message, and (optionally) what was at fault."""

    def __init__(self, hresult: int, message: str | None = None, detail: str = "") -> None:
        self.hresult = normalize_hresult(hresult)
        self.name = hresult_name(self.hresult)
        known = HRESULTS.get(self.name)
        self.message = message if message is not None else (known[1] if known else "Failure.")
        self.detail = detail
        text = f"0x{self.code:X} {self.name}: {self.message}"
        super().__init__(f"{text} ({detail})" if detail else text)

    @property
    def code(self) -> int:
        return display_code(self.hresult)

    def error_record(self) -> str:
        """The result string HCN returns next to a failing HRESULT."""
        return json.dumps(
            {"Success": False, "Error": self.message, "ErrorCode": self.hresult},
            separators=(",", ":"),
        )


def hcn_error(name: str, detail: str = "") -> HcnError:
    """An HcnError for one of the names in HRESULTS."""
    hresult, message = HRESULTS[name]
    return HcnError(hresult, message, detail)


@dataclass(frozen=True)
class ErrorRecord:
    """A decoded HCN error record (`{"Success":false,"Error":"...","ErrorCode":N}`)."""

    success: bool
    error: str
    error_code: int | None


def parse_error_record(text: str) -> ErrorRecord | None:
    """Decode the result string of an HCN call; None when it is empty or not a record."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return ErrorRecord(False, text.strip(), None)
    if not isinstance(data, dict):
        return ErrorRecord(False, text.strip(), None)
    code = data.get("ErrorCode")
    return ErrorRecord(
        bool(data.get("Success", False)),
        str(data.get("Error", "")),
        int(code) if isinstance(code, int) else None,
    )


_NOT_FOUND = frozenset({0x803B0001, 0x803B0002, 0x80070490})


def is_not_found(err: BaseException) -> bool:
    """Whether HNS refused because the object is not there (hcsshim's IsNotFoundError /
    IsElementNotFoundError): what an idempotent delete treats as done."""
    return isinstance(err, HcnError) and err.hresult in _NOT_FOUND


def is_port_already_exists(err: BaseException) -> bool:
    """hcsshim's IsPortAlreadyExistsError."""
    return isinstance(err, HcnError) and err.hresult == 0x803B0013
