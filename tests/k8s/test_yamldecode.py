"""The fast YAML decoder gives what PyYAML's safe loader gives, errors included."""

from __future__ import annotations

import pytest
import yaml

from vfpnet.k8s.yamldecode import load_all

SAME_AS_PYYAML = [
    "a: 1\nb: 0x10\nc: 1_000\nd: 0o17\ne: 017\nf: 1:30\ng: yes\nh: ~\ni: 1.5\nj: .inf\n",
    "k: 2001-12-14\nl: '123'\nm: !!str 5\nn: [1, 'x', {o: p}]\no: 'on'\np: on\nq: Null\n",
    "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\nlist: &l [1, 2]\nagain: *l\n",
    "---\n---\na: b\n...\n---\n- 1\n- 2\n",
    "a: !!set {x, y}\nb: !!omap [{x: 1}]\nc: !!binary aGVsbG8=\n",
    "",
    "# only a comment\n",
    "metadata:\n  labels: {app: web, version: '1'}\nspec:\n  ports: [{port: 80}]\n",
]


@pytest.mark.parametrize("text", SAME_AS_PYYAML)
def test_values_equal_pyyaml_safe_load_all(text: str) -> None:
    assert load_all(text) == list(yaml.safe_load_all(text))


def test_aliases_of_the_same_node_are_equal_values() -> None:
    (doc,) = load_all("a: &x {k: v}\nb: *x\n")
    assert doc["a"] == doc["b"] == {"k": "v"}


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ("a: &x [*x]\n", "found a recursive alias", 0),
        ("a: [b\n", "did not find expected ',' or ']'", 1),
        ("a: b: c\n", "mapping values are not allowed in this context", 0),
        ("a: !foo x\n", "could not determine a constructor for the tag '!foo'", 0),
        ("? [a, b]\n: c\n", "found unhashable key", 0),
    ],
)
def test_errors_are_marked_yaml_errors_with_a_line(text: str, problem: str, line: int) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        load_all(text)
    assert caught.value.problem == problem
    assert caught.value.problem_mark is not None
    assert caught.value.problem_mark.line == line
