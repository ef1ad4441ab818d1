"""The CNI 1.1 plugin: protocol, IPAM delegation, modes, per-endpoint state."""
