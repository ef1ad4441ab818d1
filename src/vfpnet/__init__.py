"""vfpnet: pod networking and network policy for Windows (HNS/VFP) nodes, with a Linux twin."""

__version__ = "0.1.0"
