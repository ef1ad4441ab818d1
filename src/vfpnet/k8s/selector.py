"""Label selector matching, as metav1.LabelSelector defines it.

matchLabels and matchExpressions are ANDed; the empty selector matches everything.
`In`: the key is present and its value is one of `values`. `NotIn`: the key is absent or
its value is not one of `values`. `Exists`/`DoesNotExist`: presence of the key.
"""

from __future__ import annotations

from vfpnet.k8s.model import Labels, LabelSelector, LabelSelectorRequirement


def requirement_matches(req: LabelSelectorRequirement, labels: Labels) -> bool:
    """Whether one matchExpressions entry holds for `labels`."""
    present = req.key in labels
    if req.operator == "In":
        return present and labels[req.key] in req.values
    if req.operator == "NotIn":
        return not present or labels[req.key] not in req.values
    if req.operator == "Exists":
        return present
    return not present  # DoesNotExist


def selector_matches(selector: LabelSelector, labels: Labels) -> bool:
    """Whether `selector` selects an object with `labels`."""
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    return all(requirement_matches(req, labels) for req in selector.match_expressions)
