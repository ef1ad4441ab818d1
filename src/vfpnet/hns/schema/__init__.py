"""The HCN v2 (and HNS v1) JSON schema: one module per resource, exact JSON names.

- `network`: HostComputeNetwork, Ipam, Subnet, Route, Dns, ModifyNetworkSettingRequest
- `endpoint`: HostComputeEndpoint, IpConfig, ModifyEndpointSettingRequest
- `namespace`: HostComputeNamespace, ModifyNamespaceSettingRequest
- `policy`: endpoint/network/subnet policies and their settings (ACL, SetPolicy, ...),
  and HNS's value formats (comma-separated lists, protocol numbers)
- `route`: the node's host routes (IP helper API, not HCN)
- `v1`: HNSNetwork, HNSEndpoint, v1 policies
- `codec`: `decode(cls, json)` / `encode(obj)`; unknown members round-trip untouched
"""
