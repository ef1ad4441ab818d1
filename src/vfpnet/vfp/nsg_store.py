"""The uplink NSG kept in the node's state file, beside the HNS emulator's tables.

The NSG lives in its own table (`vfp_nsg`, one row holding the whole NSG as JSON) on its
own connection in WAL mode, so `set-nsg` replaces it in one transaction while other
processes read the same file.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from vfpnet.errors import InputError
from vfpnet.vfp.nsg import Nsg, nsg_as_dict, parse_nsg

_SCHEMA = "CREATE TABLE IF NOT EXISTS vfp_nsg (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT)"


def read_nsg_file(path: str) -> Nsg:
    """An NSG from a JSON or YAML file (`-` reads stdin); InputError on any fault."""
    import sys

    source = "<stdin>" if path == "-" else path
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = _decode(text, path.endswith((".yaml", ".yml")), source)
    except RecursionError:
        raise InputError(f"{source}: nested too deeply") from None
    return parse_nsg(document, source)


def _decode(text: str, yaml_too: bool, source: str) -> Any:
    """JSON, or (for a .yaml/.yml file that is not JSON) YAML; InputError naming the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_err:
        if not yaml_too:
            raise InputError(
                f"{source}: invalid JSON at line {json_err.lineno}: {json_err.msg}"
            ) from None
    except ValueError as exc:  # an integer longer than Python converts (4300 digits)
        raise InputError(f"{source}: invalid JSON: {_first_clause(exc)}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}: invalid YAML{line}") from None
    except ValueError as exc:
        raise InputError(f"{source}: invalid YAML: {_first_clause(exc)}") from None


def _first_clause(exc: ValueError) -> str:
    # Python's message goes on with "; use sys.set_int_max_str_digits()": not for users.
    return str(exc).split(";")[0]


def save_nsg(state: str, nsg: Nsg) -> None:
    """Replace the NSG stored in the state file."""
    doc = json.dumps(nsg_as_dict(nsg), sort_keys=True)
    with _connect(state) as conn:
        conn.execute("INSERT OR REPLACE INTO vfp_nsg (id, doc) VALUES (1, ?)", (doc,))
    conn.close()


def load_nsg(state: str) -> Nsg:
    """The stored NSG; an empty one (only Azure's defaults) when none was set."""
    if not Path(state).exists():
        return Nsg()
    conn = _connect(state)
    try:
        row = conn.execute("SELECT doc FROM vfp_nsg WHERE id = 1").fetchone()
    finally:
        conn.close()
    if row is None:
        return Nsg()
    return parse_nsg(json.loads(row[0]), f"{state} (table vfp_nsg)")


def _connect(state: str) -> sqlite3.Connection:
    parent = Path(state).resolve().parent
    if not parent.is_dir():
        raise InputError(f"state {state}: directory {parent} does not exist")
    try:
        conn = sqlite3.connect(state, timeout=30.0)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(_SCHEMA)
        conn.commit()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"state {state}: not a usable SQLite database ({exc})") from None
    return conn
