"""A real 3-member etcd cluster on loopback ports, for the etcd datastore's tests."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Member:
    name: str
    client_url: str
    peer_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class EtcdCluster:
    root: Path
    members: list[Member] = field(default_factory=list)

    @property
    def client_urls(self) -> list[str]:
        return [m.client_url for m in self.members]

    def start_all(self) -> None:
        prefix = f"vt{secrets.token_hex(3)}"
        for i in range(3):
            self.members.append(
                Member(
                    name=f"{prefix}-m{i}",
                    client_url=f"http://127.0.0.1:{free_port()}",
                    peer_url=f"http://127.0.0.1:{free_port()}",
                    data_dir=self.root / f"m{i}",
                    log_path=self.root / f"m{i}.log",
                )
            )
        for i in range(3):
            self.start(i)
        for member in self.members:
            self.wait_healthy(member)

    def start(self, index: int) -> None:
        member = self.members[index]
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        args = [
            ETCD,
            "--name", member.name,
            "--data-dir", str(member.data_dir),
            "--listen-client-urls", member.client_url,
            "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", initial,
            "--initial-cluster-token", member.name.split("-")[0],
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
        ]
        log = member.log_path.open("ab")
        member.process = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()

    def stop(self, index: int, kill: bool = False) -> None:
        process = self.members[index].process
        if process is None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.members[index].process = None

    def stop_all(self) -> None:
        for i in range(len(self.members)):
            self.stop(i, kill=True)  # their data dirs go with the test: no need to be gentle

    def wait_healthy(self, member: Member, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if member.process is not None and member.process.poll() is not None:
                raise RuntimeError(f"etcd {member.name} exited: {member.log_path.read_text()}")
            try:
                with urllib.request.urlopen(member.client_url + "/health", timeout=1) as r:
                    if json.loads(r.read()).get("health") == "true":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"etcd {member.name} not healthy after {timeout}s")
