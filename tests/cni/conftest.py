from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from netlab import Lab

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="creates network namespaces, veths and nftables: needs root"
)


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    octet = getattr(request.module, "SUBNET_OCTET", 101)
    lab = Lab(octet)
    try:
        yield lab
    finally:
        lab.close()
