"""The state records: atomic writes, listing, locking, bad records named."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from vfpnet.cni import errors
from vfpnet.cni.state import Store, ready_endpoints


def _record(cid: str, status: str = "ready") -> dict[str, object]:
    return {"containerID": cid, "ifname": "eth0", "status": status, "ips": ["10.0.0.2/24"]}


def test_write_replaces_the_record_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = Store(str(tmp_path), "net1")
    store.write(_record("c1", "adding"))
    store.write(_record("c1"))
    files = sorted(p.name for p in (tmp_path / "net1" / "endpoints").iterdir())
    assert files == ["c1:eth0.json"]
    assert store.read("c1", "eth0") == _record("c1")
    store.remove("c1", "eth0")
    store.remove("c1", "eth0")  # removing twice is fine
    assert store.read("c1", "eth0") is None and store.all() == []


def test_ready_endpoints_lists_finished_attachments_of_all_networks(tmp_path: Path) -> None:
    Store(str(tmp_path), "a").write(_record("c1"))
    Store(str(tmp_path), "b").write(_record("c2"))
    Store(str(tmp_path), "b").write(_record("c3", "adding"))
    assert sorted(str(r["containerID"]) for r in ready_endpoints(str(tmp_path))) == ["c1", "c2"]
    assert ready_endpoints(str(tmp_path / "missing")) == []


def test_a_corrupt_record_is_a_decode_error_naming_its_file(tmp_path: Path) -> None:
    store = Store(str(tmp_path), "net1")
    store.write(_record("c1"))
    Path(store.path("c1", "eth0")).write_text("{broken")
    with pytest.raises(errors.CniError) as info:
        store.read("c1", "eth0")
    assert info.value.code == 6 and "c1:eth0.json" in info.value.msg


@pytest.mark.parametrize("name", ["", "a/b", ".."])
def test_an_unusable_network_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(errors.CniError) as info:
        Store(str(tmp_path), name)
    assert info.value.code == 7 and info.value.msg.startswith("name:")


def _hold_lock(state_dir: str, held: Any, release: Any, released_at: Any) -> None:
    with Store(state_dir, "net1").lock():
        held.set()
        release.wait(10)
        released_at.value = time.monotonic()  # the last thing done while holding it


def test_the_network_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    held, release, released_at = ctx.Event(), ctx.Event(), ctx.Value("d", 0.0)
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), held, release, released_at))
    holder.start()
    assert held.wait(10)
    threading.Timer(0.3, release.set).start()
    with Store(str(tmp_path), "net1").lock():
        got_it = time.monotonic()
    holder.join()
    # CLOCK_MONOTONIC is one clock for both processes
    assert 0.0 < released_at.value <= got_it
