"""The lab: a mixed Linux/Windows-twin cluster on one machine, with real packets.

`up` builds a fabric namespace (every node's gateway, the cloud NSG in nftables), one
namespace per node and per pod, wires pods with the vfpnet CNI as a runtime would, runs
the agent on every node, and starts a responder in each pod; `probe` connects every
ordered pod pair on every declared port and compares the packets with the policy's answer
and, on Windows-twin nodes, with the VFP model's trace; `down` removes all of it.
A running lab lives under its run dir (`VFPNET_LAB_DIR`, default /run/vfpnet-lab).
"""
