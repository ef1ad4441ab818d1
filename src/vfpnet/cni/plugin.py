"""CNI plugin entry point (the executable runs this when CNI_COMMAND is set)."""

from __future__ import annotations

import json
import sys


def main() -> int:
    # Replaced by the full protocol implementation; until then, every command is refused
    # with a spec error object so a runtime never sees a half-working plugin.
    error = {"cniVersion": "1.1.0", "code": 4, "msg": "vfpnet CNI plugin not implemented yet"}
    json.dump(error, sys.stdout)
    return 1
