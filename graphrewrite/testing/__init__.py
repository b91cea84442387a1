"""Hypothesis strategies and rule checks for rule authors (public API).

- :func:`graphs`: random valid GraphDefs from an op palette, shrinking toward fewer nodes.
- :func:`graphs_from_pattern`: graphs built from a rule's pattern, so the rule really fires.
- :func:`assert_rule_preserves_outputs` / :func:`check_rule`: run a rule over generated graphs
  in TensorFlow and compare outputs; failures come with a shrunk counterexample.

Each generated graph is a :class:`GraphCase` (``graph_def``, ``inputs``, ``outputs``,
``feeds``). :func:`register_op` teaches the generators an op they do not know yet.

In a rule author's own tests::

    from graphrewrite.rules.loader import load_rules_file
    from graphrewrite.testing import assert_rule_preserves_outputs, graphs, graphs_from_pattern

    def test_my_rules():
        for rule in load_rules_file("my.rules"):
            assert_rule_preserves_outputs(rule, examples=50)

    @given(graphs(ops=("Conv2D", "BiasAdd", "Relu"), max_nodes=6))
    def test_my_pass(case):
        ...  # case.graph_def, run with case.feeds, compare case.outputs

``graphrewrite check-rules my.rules`` runs the same check from the command line.
"""

from graphrewrite.testing.build import GraphCase
from graphrewrite.testing.catalogue import register_op
from graphrewrite.testing.checks import RuleCheck, assert_rule_preserves_outputs, check_rule
from graphrewrite.testing.from_pattern import SURROUND, graphs_from_pattern
from graphrewrite.testing.strategies import PALETTE, graphs

__all__ = [
    "PALETTE",
    "SURROUND",
    "GraphCase",
    "RuleCheck",
    "assert_rule_preserves_outputs",
    "check_rule",
    "graphs",
    "graphs_from_pattern",
    "register_op",
]
