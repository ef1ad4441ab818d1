"""The nftables driver: applies rendered endpoint programs to our one table, atomically.

Every sync is one libnftables batch (all or nothing). A delta touches only the chains,
sets and dispatch-map elements of the endpoints in it. `resync` lists our table, compares
it with the rendering of the whole desired state and, on any difference (a rule deleted
by hand, a set edited), replaces the table in one batch: at no moment is it half there.
Only our table is ever read or written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from vfpnet.agent.calc import Delta, DesiredEndpoint
from vfpnet.agent.driver import ApplyResult, DataplaneError
from vfpnet.agent.nft_runner import NftRunner
from vfpnet.agent.render_nftables import (
    BASE_CHAIN,
    FAMILY,
    TABLE,
    AddressSetSpec,
    ChainSpec,
    EndpointProgram,
    add_chain,
    add_rule,
    add_set,
    base_rules,
    full_ruleset,
    map_elements,
    render_endpoint,
)

log = logging.getLogger(__name__)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _expected(programs: Mapping[str, EndpointProgram]) -> dict[str, Any]:
    chains: dict[str, list[str]] = {BASE_CHAIN: [_canon([c, list(e)]) for c, e in base_rules()]}
    sets: dict[str, list[str]] = {}
    maps: dict[str, list[str]] = {}
    for program in programs.values():
        for chain in program.chains:
            chains[chain.name] = [_canon([c, list(e)]) for c, e in chain.rules]
        for s in program.sets:
            sets[s.name] = sorted(_canon(e) for e in s.elements)
        for m, ip, target in program.dispatch:
            maps.setdefault(m, []).append(_canon([ip, {"jump": {"target": target}}]))
    return {"chains": chains, "sets": sets, "maps": {k: sorted(v) for k, v in maps.items()}}


def _actual(listing: Any) -> dict[str, Any]:
    chains: dict[str, list[str]] = {}
    sets: dict[str, list[str]] = {}
    maps: dict[str, list[str]] = {}
    for item in (listing or {}).get("nftables", []):
        if "chain" in item:
            chains.setdefault(item["chain"]["name"], [])
        elif "rule" in item:
            rule = item["rule"]
            chains.setdefault(rule["chain"], []).append(
                _canon([rule.get("comment", ""), rule["expr"]])
            )
        elif "set" in item:
            sets[item["set"]["name"]] = sorted(_canon(e) for e in item["set"].get("elem", []))
        elif "map" in item:
            maps[item["map"]["name"]] = sorted(_canon(e) for e in item["map"].get("elem", []))
    return {"chains": chains, "sets": sets, "maps": {k: v for k, v in maps.items() if v}}


class NftablesDriver:
    name = "nftables"

    def __init__(self, runner: NftRunner, table: str = TABLE) -> None:
        self.runner = runner
        self.table = table
        self.programs: dict[str, EndpointProgram] = {}
        self.synced = False

    def _list(self) -> Any:
        try:
            return self.runner.run([{"list": {"table": {"family": FAMILY, "name": self.table}}}])
        except DataplaneError:
            return None  # no table yet

    def resync(self, desired: Mapping[str, DesiredEndpoint]) -> ApplyResult:
        programs = {h: render_endpoint(d) for h, d in desired.items()}
        if self.synced and programs == self.programs:
            actual = _actual(self._list())
            if actual == _expected(programs):
                return ApplyResult()
            log.warning("nftables: table %s %s drifted from the desired state; replacing it",
                        FAMILY, self.table)
        self.runner.run(full_ruleset(self.table, programs))
        self.programs = programs
        repaired = self.synced
        self.synced = True
        return ApplyResult(programmed=tuple(sorted(programs)), repaired=repaired)

    def apply(self, delta: Delta) -> ApplyResult:
        if not self.synced:
            raise DataplaneError("nftables: apply before the first resync")
        new = {h: render_endpoint(d) for h, d in delta.changed.items()}
        after = dict(self.programs)
        after.update(new)
        for handle in delta.removed:
            after.pop(handle, None)
        self.runner.run(self._incremental(after, new, delta.removed))
        self.programs = after
        return ApplyResult(programmed=tuple(sorted(new)))

    def _incremental(
        self,
        after: Mapping[str, EndpointProgram],
        new: Mapping[str, EndpointProgram],
        removed: frozenset[str],
    ) -> list[dict[str, Any]]:
        t = self.table

        def all_sets(programs: Mapping[str, EndpointProgram]) -> dict[str, AddressSetSpec]:
            return {s.name: s for p in programs.values() for s in p.sets}

        def all_chains(programs: Mapping[str, EndpointProgram]) -> dict[str, ChainSpec]:
            return {c.name: c for p in programs.values() for c in p.chains}

        sets_before, sets_after = all_sets(self.programs), all_sets(after)
        chains_before, chains_after = all_chains(self.programs), all_chains(after)
        cmds: list[dict[str, Any]] = [
            add_set(t, s) for name, s in sets_after.items() if name not in sets_before
        ]
        # Chains are named for their content: a new list is a new chain, never an edit.
        for name, chain in chains_after.items():
            if name not in chains_before:
                cmds.append(add_chain(t, name))
                cmds.extend(add_rule(t, name, c, e) for c, e in chain.rules)
        touched = set(new) | set(removed)
        old_pairs = {d for h in touched if h in self.programs for d in self.programs[h].dispatch}
        new_pairs = {d for h in touched if h in after for d in after[h].dispatch}
        for verb, pairs in (("delete", old_pairs - new_pairs), ("add", new_pairs - old_pairs)):
            by_map: dict[str, list[tuple[str, str]]] = {}
            for m, ip, target in sorted(pairs):
                by_map.setdefault(m, []).append((ip, target))
            cmds.extend(map_elements(verb, t, m, p) for m, p in by_map.items())
        for name in chains_before:
            if name not in chains_after:
                ref = {"family": FAMILY, "table": t, "name": name}
                cmds.append({"flush": {"chain": ref}})
                cmds.append({"delete": {"chain": ref}})
        for name in sets_before:
            if name not in sets_after:
                cmds.append({"delete": {"set": {"family": FAMILY, "table": t, "name": name}}})
        return cmds

    def cleanup(self) -> None:
        if self._list() is not None:
            self.runner.run([{"delete": {"table": {"family": FAMILY, "name": self.table}}}])
        self.programs = {}
        self.synced = False
