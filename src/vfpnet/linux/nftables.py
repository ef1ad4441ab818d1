"""nftables through libnftables' JSON API (ctypes on `libnftables.so.1`).

One `Nft` context per process; `run(commands)` takes the JSON command list of
libnftables-json(5) and returns the parsed JSON output. Errors raise `NftError` with
the library's own message. The JSON codec is injectable: the CNI plugin passes its
lean one (`import json` costs milliseconds on a pod's ADD path).
"""

from __future__ import annotations

import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

NFT_CTX_OUTPUT_JSON = 1 << 4


class NftError(OSError):
    """libnftables refused a command; the message is nft's error text."""


class Nft:
    def __init__(self, dumps: Callable[[Any], str] | None = None,
                 loads: Callable[[str], Any] | None = None) -> None:
        if dumps is None or loads is None:
            import json

            dumps, loads = json.dumps, json.loads
        self._dumps, self._loads = dumps, loads
        lib = ctypes.CDLL("libnftables.so.1", use_errno=True)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self._lib = lib
        self._ctx = lib.nft_ctx_new(0)
        lib.nft_ctx_output_set_flags(self._ctx, NFT_CTX_OUTPUT_JSON)
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None

    def run(self, commands: list[dict[str, Any]]) -> Any:
        """Run a JSON command batch atomically; return the parsed output (or None)."""
        payload = self._dumps({"nftables": commands}).encode()
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, payload)
        out = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
        err = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        if rc != 0:
            raise NftError(rc, err.decode(errors="replace").strip() or "nft command failed")
        return self._loads(out.decode()) if out.strip() else None

    def run_text(self, text: str) -> Any:
        """Run one command in nft syntax (e.g. `list set inet t s`); parsed JSON output."""
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
        out = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
        err = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        if rc != 0:
            raise NftError(rc, err.decode(errors="replace").strip() or "nft command failed")
        return self._loads(out.decode()) if out.strip() else None
