"""What every kind shares: object metadata, label maps and label selectors, read and
validated as the API server does (metav1 ObjectMeta and LabelSelector validation).

Unknown fields inside policy objects are reported (`check_known_fields`), as `kubectl
apply --validate=strict` would refuse them: a misspelt field in a policy silently changes
what it allows. They are warnings, not errors, because analyzers reading manifests ignore
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vfpnet.k8s.fields import (
    ObjectRef,
    child,
    index,
    require,
    want_list,
    want_mapping,
    want_str,
    want_str_map,
)
from vfpnet.k8s.model import (
    DEFAULT_NAMESPACE,
    Labels,
    LabelSelector,
    LabelSelectorRequirement,
    Operator,
)
from vfpnet.k8s.names import (
    dns1123_label_problem,
    dns1123_subdomain_problem,
    label_value_problem,
    qualified_name_problem,
)

_OPERATORS: tuple[Operator, ...] = ("In", "NotIn", "Exists", "DoesNotExist")


def supported(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def check_known_fields(
    ref: ObjectRef, obj: Mapping[str, Any], known: Iterable[str], path: str
) -> None:
    """Warn about a field of `obj` that is not in `known` (it is ignored)."""
    allowed = set(known)
    for key in obj:
        if key not in allowed:
            ref.warn(child(path, key), f'unknown field "{key}": ignored')


def read_object_ref(
    file: str, kind: str, obj: Mapping[str, Any], *, namespaced: bool, name_rule: str = "subdomain"
) -> ObjectRef:
    """The ObjectRef of a manifest object, after checking `metadata.name` and
    `metadata.namespace`. An object of a namespaced kind without a namespace is in
    `default`; a cluster-scoped object's namespace is ignored, as the API server does.
    `name_rule` is "subdomain" (most kinds) or "label" (Namespace). A name that breaks
    the rule is kept, with a warning; a missing name is an error unless `generateName`
    stands in for it (with a warning)."""
    namespace: str | None = DEFAULT_NAMESPACE if namespaced else None
    draft = ObjectRef(file, kind, namespace, "")
    metadata = want_mapping(draft, obj.get("metadata"), "metadata")
    raw_name = metadata.get("name")
    name = "" if raw_name is None else want_str(draft, raw_name, "metadata.name")
    if namespaced and metadata.get("namespace") is not None:
        given = want_str(draft, metadata["namespace"], "metadata.namespace")
        if given:
            namespace = given
    generated = False
    if not name and metadata.get("generateName") is not None:
        name = want_str(draft, metadata["generateName"], "metadata.generateName")
        generated = bool(name)
    ref = ObjectRef(file, kind, namespace, name)
    if not name:
        ref.fail("metadata.name", "Required value: name is required")
    if generated:
        ref.warn("metadata.name", f'Required value: generateName "{name}" used as the name')
    check = dns1123_label_problem if name_rule == "label" else dns1123_subdomain_problem
    problem = check(name)
    if problem is not None:
        ref.warn("metadata.name", f'Invalid value: "{name}": {problem}')
    if namespace is not None:
        problem = dns1123_label_problem(namespace)
        if problem is not None:
            ref.warn("metadata.namespace", f'Invalid value: "{namespace}": {problem}')
    return ref


def read_labels(ref: ObjectRef, value: object, path: str) -> Labels:
    """A label map (metadata.labels, matchLabels): keys qualified names, values label
    values."""
    raw = want_str_map(ref, value, path)
    for key, item in raw.items():
        problem = qualified_name_problem(key)
        if problem is not None:
            ref.fail(child(path, key), f'Invalid value: "{key}": {problem}')
        problem = label_value_problem(item)
        if problem is not None:
            ref.fail(child(path, key), f'Invalid value: "{item}": {problem}')
    return Labels.of(raw)


def read_metadata_labels(ref: ObjectRef, obj: Mapping[str, Any], path: str = "metadata") -> Labels:
    metadata = want_mapping(ref, obj.get("metadata"), path)
    return read_labels(ref, metadata.get("labels"), child(path, "labels"))


def read_selector(ref: ObjectRef, value: object, path: str) -> LabelSelector:
    """A metav1.LabelSelector. Null or `{}` is the empty selector (selects everything);
    callers that distinguish "absent" check for None before calling."""
    obj = want_mapping(ref, value, path)
    check_known_fields(ref, obj, ("matchLabels", "matchExpressions"), path)
    match_labels = read_labels(ref, obj.get("matchLabels"), child(path, "matchLabels"))
    expressions: list[LabelSelectorRequirement] = []
    exprs_path = child(path, "matchExpressions")
    for i, raw in enumerate(want_list(ref, obj.get("matchExpressions"), exprs_path)):
        expressions.append(_read_requirement(ref, raw, index(exprs_path, i)))
    return LabelSelector(match_labels, tuple(expressions))


def _read_requirement(ref: ObjectRef, value: object, path: str) -> LabelSelectorRequirement:
    obj = want_mapping(ref, value, path)
    check_known_fields(ref, obj, ("key", "operator", "values"), path)
    key = want_str(ref, require(ref, obj, "key", path), child(path, "key"))
    problem = qualified_name_problem(key)
    if problem is not None:
        ref.fail(child(path, "key"), f'Invalid value: "{key}": {problem}')
    operator = want_str(ref, require(ref, obj, "operator", path), child(path, "operator"))
    if operator not in _OPERATORS:
        ref.fail(
            child(path, "operator"),
            f'Unsupported value: "{operator}": supported values: {supported(_OPERATORS)}',
        )
    values_path = child(path, "values")
    values = [
        want_str(ref, v, index(values_path, i))
        for i, v in enumerate(want_list(ref, obj.get("values"), values_path))
    ]
    if operator in ("In", "NotIn") and not values:
        ref.fail(
            values_path, "Required value: must be specified when `operator` is 'In' or 'NotIn'"
        )
    if operator in ("Exists", "DoesNotExist") and values:
        ref.fail(
            values_path,
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )
    for i, v in enumerate(values):
        problem = label_value_problem(v)
        if problem is not None:
            ref.fail(index(values_path, i), f'Invalid value: "{v}": {problem}')
    return LabelSelectorRequirement(key, operator, tuple(values))
