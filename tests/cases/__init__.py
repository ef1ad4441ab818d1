"""Data-driven network policy cases: manifests plus the expected truth table.

A case is a directory under `tests/cases/` holding a `case.toml` and the YAML manifests
its steps name. The format is described in `tests/cases/README.md`; in short:

    title = "upstream test name"
    source = "repository path @ commit"
    [[steps]]
    name = "initial"
    manifests = ["../_base", "policy.yaml"]      # files or directories, case-relative
    flows = ["NS/SRC -> NS/DST TCP/80 allow"]    # single expectations
    [[steps.tables]]                              # and/or whole matrices
    ports = ["TCP/80", "TCP/81"]
    matrix = '''
    -    x/a x/b
    x/a  -   X
    x/b  .   -
    '''

In a matrix, rows are sources and columns destinations; `.` means the connection is
allowed, `X` that it is denied and `-` that the pair is not checked (the upstream suites
ignore a pod talking to itself). Every step is a complete state: its manifests are the
whole cluster at that point, so a runner (the evaluator, `vfpnet reach`, the lab on real
namespaces) loads them from scratch for each step.

Only PyYAML and the standard library are used, so the lab and the agent can load cases
without the policy code under test.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

CASES_ROOT = Path(__file__).resolve().parent
PROTOCOLS = ("TCP", "UDP", "SCTP")
CASE_FILE = "case.toml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

Protocol = Literal["TCP", "UDP", "SCTP"]


class CaseError(ValueError):
    """A case file that does not follow the format; the message names file and field."""


@dataclass(frozen=True)
class Expectation:
    """One upstream expectation: from pod `src` to pod `dst` (both `NS/NAME`) on
    `protocol`/`port`, the connection is `allowed` or not."""

    src: str
    dst: str
    protocol: Protocol
    port: int
    allowed: bool

    def __str__(self) -> str:
        verdict = "allow" if self.allowed else "deny"
        return f"{self.src} -> {self.dst} {self.protocol}/{self.port} {verdict}"


@dataclass(frozen=True)
class PodInfo:
    """What a runner needs of a pod in a step's manifests (e.g. to start it in the lab)."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    ips: tuple[str, ...]
    ports: tuple[tuple[str | None, Protocol, int], ...]  # (name, protocol, containerPort)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Step:
    """One state of a case: the manifests to load (in order) and what must hold."""

    name: str
    title: str
    manifests: tuple[Path, ...]
    expectations: tuple[Expectation, ...]

    def manifest_files(self) -> tuple[Path, ...]:
        """Every manifest file, directories expanded recursively in sorted order."""
        return tuple(_expand(self.manifests))

    def documents(self) -> Iterator[dict[str, Any]]:
        """The Kubernetes objects of this step (lists are not expanded)."""
        for path in self.manifest_files():
            text = path.read_text()
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict):
                    yield doc

    def listeners(self) -> dict[str, frozenset[tuple[Protocol, int]]]:
        """For each destination pod, the (protocol, port) pairs the expectations probe:
        what a lab must serve there so that an allowed probe can succeed."""
        found: dict[str, set[tuple[Protocol, int]]] = {}
        for e in self.expectations:
            found.setdefault(e.dst, set()).add((e.protocol, e.port))
        return {pod: frozenset(ports) for pod, ports in found.items()}

    def pods(self) -> dict[str, PodInfo]:
        """The Pods of this step by `NS/NAME`."""
        found: dict[str, PodInfo] = {}
        for doc in self.documents():
            if doc.get("kind") != "Pod":
                continue
            pod = _pod_info(doc)
            found[pod.id] = pod
        return found


@dataclass(frozen=True)
class Case:
    """An upstream test ported as data. `id` is its directory relative to CASES_ROOT."""

    id: str
    suite: str
    title: str
    source: str
    notes: str
    directory: Path
    steps: tuple[Step, ...]


def load_case(directory: Path, root: Path = CASES_ROOT) -> Case:
    """Read `directory/case.toml`; raise CaseError naming the file and field on bad input."""
    path = directory / CASE_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CaseError(f"{path}: {exc}") from exc
    case_id = directory.resolve().relative_to(root.resolve()).as_posix()
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise CaseError(f"{path}: steps: at least one [[steps]] table is required")
    steps = tuple(_step(path, i, s) for i, s in enumerate(steps_raw))
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise CaseError(f"{path}: steps: step names must be unique, got {names}")
    return Case(
        id=case_id,
        suite=case_id.split("/", 1)[0],
        title=_string(path, "title", raw.get("title")),
        source=_string(path, "source", raw.get("source")),
        notes=str(raw.get("notes", "")),
        directory=directory,
        steps=steps,
    )


def load_cases(root: Path = CASES_ROOT, suite: str | None = None) -> tuple[Case, ...]:
    """Every case under `root` (or under `root/suite`), sorted by id."""
    base = root / suite if suite else root
    dirs = sorted(p.parent for p in base.rglob(CASE_FILE))
    return tuple(load_case(d, root) for d in dirs)


def case_steps(
    root: Path = CASES_ROOT, suite: str | None = None
) -> list[tuple[Case, Step]]:
    """(case, step) pairs, the unit a runner checks; id them with `step_id`."""
    return [(case, step) for case in load_cases(root, suite) for step in case.steps]


def step_id(case: Case, step: Step) -> str:
    return case.id if len(case.steps) == 1 else f"{case.id}:{step.name}"


def parse_flow(text: str, where: str = "flow") -> Expectation:
    """`SRC -> DST PROTO/PORT allow|deny` -> Expectation."""
    parts = text.split()
    if len(parts) != 5 or parts[1] != "->":
        raise CaseError(f"{where}: expected 'SRC -> DST PROTO/PORT allow|deny', got {text!r}")
    src, _, dst, proto_port, verdict = parts
    protocol, port = _proto_port(where, proto_port)
    if verdict not in ("allow", "deny"):
        raise CaseError(f"{where}: verdict must be allow or deny, got {verdict!r}")
    for pod in (src, dst):
        _check_pod_id(where, pod)
    return Expectation(src, dst, protocol, port, verdict == "allow")


def parse_matrix(text: str, ports: Sequence[str], where: str = "matrix") -> list[Expectation]:
    """A truth table (header row of destinations, one row per source) -> expectations for
    every listed `PROTO/PORT`; `-` cells are skipped."""
    rows = [line.split() for line in text.strip().splitlines() if line.strip()]
    if len(rows) < 2:
        raise CaseError(f"{where}: a matrix needs a header row and at least one source row")
    header = rows[0][1:]
    for pod in header:
        _check_pod_id(where, pod)
    parsed_ports = [_proto_port(where, p) for p in ports]
    if not parsed_ports:
        raise CaseError(f"{where}: ports: at least one PROTO/PORT is required")
    out: list[Expectation] = []
    for row in rows[1:]:
        src, cells = row[0], row[1:]
        _check_pod_id(where, src)
        if len(cells) != len(header):
            raise CaseError(f"{where}: row {src} has {len(cells)} cells, header has {len(header)}")
        for dst, cell in zip(header, cells, strict=True):
            if cell == "-":
                continue
            if cell not in (".", "X"):
                raise CaseError(f"{where}: row {src}, column {dst}: cell must be . X or -")
            for protocol, port in parsed_ports:
                out.append(Expectation(src, dst, protocol, port, cell == "."))
    return out


def _step(path: Path, index: int, raw: Any) -> Step:
    where = f"{path}: steps[{index}]"
    if not isinstance(raw, dict):
        raise CaseError(f"{where}: must be a table")
    name = _string(path, f"steps[{index}].name", raw.get("name"))
    manifests_raw = raw.get("manifests")
    if not isinstance(manifests_raw, list) or not manifests_raw:
        raise CaseError(f"{where}.manifests: a non-empty list of paths is required")
    manifests: list[Path] = []
    for m in manifests_raw:
        target = (path.parent / str(m)).resolve()
        if not target.exists():
            raise CaseError(f"{where}.manifests: {m} does not exist")
        manifests.append(target)
    expectations: list[Expectation] = []
    for j, flow in enumerate(raw.get("flows", [])):
        expectations.append(parse_flow(str(flow), f"{where}.flows[{j}]"))
    for j, table in enumerate(raw.get("tables", [])):
        twhere = f"{where}.tables[{j}]"
        if not isinstance(table, dict):
            raise CaseError(f"{twhere}: must be a table")
        ports = table.get("ports")
        if not isinstance(ports, list):
            raise CaseError(f"{twhere}.ports: a list of PROTO/PORT is required")
        matrix = _string(path, f"steps[{index}].tables[{j}].matrix", table.get("matrix"))
        expectations.extend(parse_matrix(matrix, [str(p) for p in ports], twhere))
    if not expectations:
        raise CaseError(f"{where}: no flows and no tables: nothing would be checked")
    seen: dict[tuple[str, str, str, int], bool] = {}
    for e in expectations:
        key = (e.src, e.dst, e.protocol, e.port)
        if seen.setdefault(key, e.allowed) != e.allowed:
            raise CaseError(f"{where}: contradicting expectations for {e}")
    return Step(
        name=name,
        title=str(raw.get("title", name)),
        manifests=tuple(manifests),
        expectations=tuple(expectations),
    )


def _expand(paths: Sequence[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix in MANIFEST_SUFFIXES
            )
        else:
            yield p


def _pod_info(doc: dict[str, Any]) -> PodInfo:
    meta = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    status = doc.get("status") or {}
    ips: list[str] = []
    if status.get("podIP"):
        ips.append(str(status["podIP"]))
    for entry in status.get("podIPs") or []:
        ip = str(entry.get("ip", ""))
        if ip and ip not in ips:
            ips.append(ip)
    ports: list[tuple[str | None, Protocol, int]] = []
    for container in spec.get("containers") or []:
        for cp in container.get("ports") or []:
            proto = str(cp.get("protocol", "TCP"))
            if proto not in PROTOCOLS:
                raise CaseError(f"pod {meta.get('name')}: bad protocol {proto!r}")
            ports.append((cp.get("name"), proto, int(cp["containerPort"])))  # type: ignore[arg-type]
    return PodInfo(
        namespace=str(meta.get("namespace", "default")),
        name=str(meta["name"]),
        labels=dict(meta.get("labels") or {}),
        ips=tuple(ips),
        ports=tuple(ports),
    )


def _proto_port(where: str, text: str) -> tuple[Protocol, int]:
    proto, _, port = text.partition("/")
    if proto not in PROTOCOLS or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise CaseError(f"{where}: expected PROTO/PORT (TCP|UDP|SCTP, 1-65535), got {text!r}")
    return proto, int(port)  # type: ignore[return-value]


def _check_pod_id(where: str, pod: str) -> None:
    ns, sep, name = pod.partition("/")
    if not sep or not ns or not name or "/" in name:
        raise CaseError(f"{where}: a pod is written NS/NAME, got {pod!r}")


def _string(path: Path, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CaseError(f"{path}: {field}: a non-empty string is required")
    return value
