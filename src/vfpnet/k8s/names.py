"""The syntax rules Kubernetes applies to names, label keys and values, and port names.

Each `*_problem` function returns None when the value is valid, else a short reason in
the API server's words. Rules (k8s.io/apimachinery/pkg/util/validation):

- DNS-1123 label: at most 63 characters, lowercase alphanumerics and '-', starting and
  ending alphanumeric (namespace names).
- DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels
  (object names; the prefix of a qualified name).
- qualified name: `[prefix/]name`, name at most 63 characters of alphanumerics, '-', '_'
  and '.', starting and ending alphanumeric; prefix a DNS-1123 subdomain (label keys).
- label value: empty, or at most 63 characters like a qualified name's name part.
- IANA_SVC_NAME: at most 15 characters, lowercase alphanumerics and '-', at least one
  letter, no leading, trailing or doubled '-' (container port names, named ports).
"""

from __future__ import annotations

import re

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_IANA_SVC_NAME = re.compile(r"[-a-z0-9]+")
_HAS_LETTER = re.compile(r"[a-z]")

_NAME_PART_CHARS = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def dns1123_label_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character"
        )
    return None


def dns1123_subdomain_problem(value: str) -> str | None:
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return None


def qualified_name_problem(value: str) -> str | None:
    """Why `value` is not a valid label key (qualified name), or None."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return "prefix part must be non-empty"
        problem = dns1123_subdomain_problem(prefix)
        if problem is not None:
            return f"prefix part {problem}"
    else:
        return (
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME_PART.fullmatch(name):
        return f"name part {_NAME_PART_CHARS}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value, or None."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if value and not _QUALIFIED_NAME_PART.fullmatch(value):
        return f"a valid label {_NAME_PART_CHARS}"
    return None


def port_name_problem(value: str) -> str | None:
    """Why `value` is not a valid IANA_SVC_NAME (a port name), or None."""
    if len(value) > 15:
        return "must be no more than 15 characters"
    if not _IANA_SVC_NAME.fullmatch(value):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if "--" in value:
        return "must not contain consecutive hyphens"
    if not _HAS_LETTER.search(value):
        return "must contain at least one letter (a-z)"
    if value.startswith("-") or value.endswith("-"):
        return "must not begin or end with a hyphen"
    return None


def port_number_problem(value: int) -> str | None:
    if not 1 <= value <= 65535:
        return "must be between 1 and 65535, inclusive"
    return None
