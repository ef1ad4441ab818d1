"""The argument parser every `vfpnet` command uses.

Usage mistakes come out as one line on stderr with exit status 2, like every other input
error of vfpnet (scripts read the first line; the full usage is one `--help` away).
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error; subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
