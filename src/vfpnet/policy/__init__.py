"""Network policy semantics: `evaluate` (one flow, read straight from the API objects,
written to mirror the spec text) and `compile` (per endpoint and direction, an ordered
rule IR). Property tests hold the two equal."""
