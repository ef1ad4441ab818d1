"""HNS, the Windows Host Networking Service, as vfpnet speaks to it.

- `client`: `HnsClient` (the protocol every dataplane uses) and `open_client(state, version)`
  which gives the emulator on a state file, or the real HNS on Windows.
- `emulator`: `Emulator(path, version=None)`, HNS on one SQLite file shared by processes.
- `win32`: `Win32Client`, ctypes bindings to computenetwork.dll / iphlpapi.dll and
  vmcompute.dll's HNSCall (the HNS v1 calls) (Windows).
- `errors`: `HcnError` (HRESULT, name, HNS's message), `is_not_found`, `hcn_error`.
- `schema`: the HCN v2 / HNS v1 JSON types; `schema.route.host_route()` for host routes.
- `version`: `HnsVersion`, hcsshim's feature gates. `faults`: fault plans.
- `validate`, `v1convert`, `hnsctl`: HNS's checks, v1 -> v2, the `vfpnet hns` commands.

Import the submodule you need; this package imports nothing (the CNI path stays lean).
"""
