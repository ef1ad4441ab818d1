"""The Linux dataplane mechanisms: netns, netlink (links, addresses, routes, rules), nftables.

Modules here change the kernel and hand back what is needed to undo each change; they
never decide policy or modes (that is `vfpnet.cni.backends.linux` and the agent).
"""
