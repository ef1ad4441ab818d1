"""Reading manifest files into raw objects: files and directories (recursively `*.yaml`,
`*.yml`, `*.json`, in name order), multi-document YAML, JSON, `kind: List` and typed lists
(`PodList`, `NamespaceList`, ...; their items may omit `kind`/`apiVersion`, which default
to the list's), and `-` for standard input. A syntax error is an `InputError` naming the
file, line and column.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from vfpnet.k8s.fields import input_error, one_line, type_name
from vfpnet.k8s.yamldecode import load_all

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
"""The path that stands for standard input (read as YAML, which includes JSON)."""

_MAX_LIST_NESTING = 16

@dataclass(frozen=True, eq=False)
class Document:
    """One object as decoded: the file it came from, where in the file (for messages
    about an object that cannot be named yet) and the decoded mapping."""

    file: str
    where: str
    obj: dict[str, Any]


def manifest_files(paths: Sequence[str], warnings: list[str] | None = None) -> list[str]:
    """The files `paths` stand for, each once, in order (a directory: its manifests,
    recursively, sorted by path). A path that does not exist is an InputError.

    In a directory FIFOs, sockets and devices are passed over: one named like a manifest
    would block the read forever. A directory with no manifest at all is a warning, not an error
    (a datastore directory starts empty), so that a mistyped path is still noticed."""
    sink: list[str] = [] if warnings is None else warnings
    found: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)

    for path in paths:
        if path == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                found.append(STDIN)
        elif os.path.isdir(path):
            below: list[str] = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                below.extend(
                    os.path.join(root, name)
                    for name in files
                    if name.endswith(MANIFEST_SUFFIXES)
                    and not _is_special(os.path.join(root, name))
                )
            if not below:
                sink.append(f"{path}: no manifests ({', '.join(MANIFEST_SUFFIXES)}) in directory")
            for file in sorted(below):
                add(file)
        elif os.path.exists(path):
            add(path)
        else:
            raise input_error(f"{path}: no such file or directory")
    return found


def _is_special(path: str) -> bool:
    # A dangling link is not special: reading it gives the user a "cannot read" error.
    return os.path.exists(path) and not os.path.isfile(path)


def read_documents(
    paths: Sequence[str], warnings: list[str] | None = None
) -> Iterator[Document]:
    """Every object in the manifests under `paths`, lists expanded. A document that is
    not an object with a `kind` (a stray JSON list, a config file) is skipped with a
    warning appended to `warnings`."""
    sink: list[str] = [] if warnings is None else warnings
    for path in manifest_files(paths, sink):
        name = "<stdin>" if path == STDIN else path
        for number, decoded in enumerate(_decode_file(path, name), start=1):
            if decoded is None:
                continue
            yield from _expand(name, f"document {number}", decoded, sink)


def _decode_file(path: str, file: str) -> list[Any]:
    """The documents of `path`; `file` is its name in messages."""
    try:
        return _decode_text(file, _read_text(path, file))
    except RecursionError:
        raise input_error(f"{file}: nested too deeply") from None


def _read_text(path: str, file: str) -> str:
    try:
        if path == STDIN:
            # Bytes, decoded here: sys.stdin's own decoding may be lenient (surrogateescape)
            # and leave the bad bytes to fail much later, as an internal error.
            return sys.stdin.buffer.read().decode("utf-8")
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise input_error(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise input_error(f"{file}: cannot read: {exc.strerror}") from None


def _decode_text(file: str, text: str) -> list[Any]:
    if file.endswith(".json"):
        try:
            return [json.loads(text)] if text.strip() else []
        except json.JSONDecodeError as exc:
            raise input_error(f"{file}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except ValueError as exc:  # an integer longer than Python converts (4300 digits)
            raise input_error(f"{file}: invalid JSON: {_first_clause(exc)}") from None
    try:
        return load_all(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = exc.problem or exc.context or "syntax error"
        raise input_error(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())
        raise input_error(f"{file}: invalid YAML: {message}") from None
    except ValueError as exc:  # an integer longer than Python converts (4300 digits)
        raise input_error(f"{file}: invalid YAML: {_first_clause(exc)}") from None


def _first_clause(exc: ValueError) -> str:
    # Python's message goes on with "; use sys.set_int_max_str_digits()": not for users.
    return str(exc).split(";")[0]


def _expand(
    file: str, where: str, decoded: object, warnings: list[str], depth: int = 0
) -> Iterator[Document]:
    if depth > _MAX_LIST_NESTING:
        raise input_error(f"{file}: {where}: lists nested more than {_MAX_LIST_NESTING} deep")
    if not isinstance(decoded, dict):
        warnings.append(one_line(
            f"{file}: {where}: skipped: not a Kubernetes object ({type_name(decoded)})"
        ))
        return
    kind = decoded.get("kind")
    if not isinstance(kind, str) or not kind:
        warnings.append(one_line(f"{file}: {where}: skipped: not a Kubernetes object (no kind)"))
        return
    if kind.endswith("List") and "items" in decoded:
        items = decoded["items"]
        if items is None:
            return
        if not isinstance(items, list):
            raise input_error(f"{file}: {where}: {kind}: items: must be a list")
        item_kind = kind[: -len("List")] if kind != "List" else None
        for i, item in enumerate(items):
            item_where = f"{where} items[{i}]"
            if isinstance(item, dict) and item_kind is not None:
                item = dict(item)
                item.setdefault("kind", item_kind)
                if "apiVersion" in decoded:
                    item.setdefault("apiVersion", decoded["apiVersion"])
            yield from _expand(file, item_where, item, warnings, depth + 1)
        return
    yield Document(file=file, where=where, obj=decoded)
