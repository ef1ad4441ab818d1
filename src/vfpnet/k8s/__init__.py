"""The Kubernetes object model (`model`), its loading and strict validation (`load`),
label selector matching (`selector`) and named port resolution (`namedport`)."""
