"""Hypothesis strategies and rule checks for rule authors (public API).

- :func:`graphs`: random valid GraphDefs from an op palette, shrinking toward fewer nodes.
- :func:`graphs_from_pattern`: graphs built from a rule's pattern, so the rule really fires.
- :func:`assert_rule_preserves_outputs` / :func:`check_rule`: run a rule over generated graphs
  in TensorFlow and compare outputs; failures come with a shrunk counterexample.

Each generated graph is a :class:`GraphCase` (``graph_def``, ``inputs``, ``outputs``,
``feeds``). :func:`register_op` teaches the generators an op they do not know yet.
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
