"""The Kubernetes side of vfpnet: the object model and reading manifests into it.

- `model`: frozen, hashable dataclasses (Namespace, Workload, NetworkPolicy, the unified
  ClusterPolicy for ClusterNetworkPolicy/AdminNetworkPolicy/BaselineAdminNetworkPolicy,
  Cluster).
- `load.load_cluster(paths)`: files/directories -> validated Cluster, or one InputError.
- `selector.selector_matches`, `namedport.resolve_named_port`: the two matching rules
  every reading of policy shares.
- Reading and validation, one module per concern: `documents` (files, YAML/JSON, lists),
  `yamldecode` (fast YAML), `fields` (typed field access, error messages), `meta`
  (metadata, labels, selectors), `names` (name/label/port-name syntax), `cidr`,
  `workload`, `networkpolicy`, `clusterpolicy`.
"""
