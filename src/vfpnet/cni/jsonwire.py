"""JSON for the plugin's hot path without the `json` package.

`import json` pulls in `re` and `enum` (about 7 ms, measured with `python -X importtime`),
which is most of a reference plugin's whole ADD. The C accelerator `_json` that `json`
itself uses is a builtin and loads in microseconds; these two functions drive it directly
with the same settings `json.loads` / `json.dumps` use.
"""

from __future__ import annotations

import _json


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str]

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.lower().replace("infinity", "inf"))


class JsonError(ValueError):
    """Input is not a single JSON value; `pos` is the offset where reading failed."""

    def __init__(self, pos: int, reason: str) -> None:
        super().__init__(f"{reason} at offset {pos}")
        self.pos = pos


def loads(text: str | bytes) -> object:
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError as exc:
            raise JsonError(exc.start, "invalid UTF-8") from None
    body = text.strip(" \t\n\r")
    scan = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
    try:
        value, end = scan(body, 0)
    except StopIteration as exc:
        raise JsonError(exc.value, "expected a JSON value") from None
    except (ValueError, SystemError):
        # The scanner reports syntax errors through json.decoder, which it does not import
        # itself (it fails with SystemError when that is not loaded): let `json` explain.
        import json

        try:
            json.loads(body)
        except json.JSONDecodeError as exc:
            raise JsonError(exc.pos, exc.msg) from None
        raise JsonError(0, "invalid JSON") from None
    if end != len(body):
        raise JsonError(end, "extra data after the JSON value")
    return value


def _refuse(obj: object) -> object:
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


_encode = _json.make_encoder(
    None, _refuse, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)


def dumps(obj: object) -> str:
    return "".join(_encode(obj, 0))
