"""Reachability analysis from manifests: `reach` (workload-level connectivity) and
`explain` (why one flow is allowed or denied), and their output formats."""
