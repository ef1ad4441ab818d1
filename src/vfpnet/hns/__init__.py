"""HNS, the Windows Host Networking Service: its HCN schema, a client protocol, a Win32
client for real Windows (`vfpnet.hns.win32`) and an emulator elsewhere
(`vfpnet.hns.emulator`). Import the submodule you need; this package imports nothing."""
