from __future__ import annotations

from collections.abc import Iterator

import pytest
from netlab import Lab


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    octet = getattr(request.module, "SUBNET_OCTET", 101)
    lab = Lab(octet)
    try:
        yield lab
    finally:
        lab.close()
