"""Backends of the CNI plugin, by netconf `backend` name (module, class), loaded on demand."""

REGISTRY: dict[str, tuple[str, str]] = {
    "linux": ("vfpnet.cni.backends.linux", "LinuxBackend"),
    "hns": ("vfpnet.cni.backends.hns", "HnsBackend"),
}
