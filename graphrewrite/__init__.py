"""graphrewrite: freeze, rewrite and verify TensorFlow GraphDefs with declarative rules.

The public API, for users, embedders and rule authors, is this module's ``__all__``. Names are
imported on first use, so ``import graphrewrite`` costs nothing and imports no TensorFlow::

    import graphrewrite
    graph_def = graphrewrite.load_graph("model.pb")
    out = graphrewrite.transform_graph(graph_def, ["input"], ["logits"],
                                       "fold_constants(ignore_errors=true) fold_batch_norms")
    graphrewrite.save_graph(out, "optimized.pb")

A rule in Python is a :class:`Rule` (a pattern built with :func:`op`, :func:`const` and
:class:`Tensor`, a guard returning a reason or None, a builder returning a :class:`Rewrite`),
a :class:`Group` of rules, a whole-graph :class:`Pass`, or a :class:`Schedule`; put them in a
:class:`RuleSet` and pass it as ``rules=`` to :func:`transform_graph` or :func:`compile_pipeline`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

GraphDef = Any  # a tensorflow.core.framework.graph_pb2.GraphDef (the protobuf message)

# name -> the module that defines it
_LAZY = {
    # running transforms
    "transform_graph": "graphrewrite.pipeline",
    "compile_pipeline": "graphrewrite.pipeline",
    "run_pipeline": "graphrewrite.pipeline",
    "Result": "graphrewrite.pipeline",
    "load_graph": "graphrewrite.io",
    "save_graph": "graphrewrite.io",
    "standard_rules": "graphrewrite.stdlib_rules",
    # numerical trust
    "verify": "graphrewrite.verification",
    "VerifyReport": "graphrewrite.verification",
    # writing rules in Python
    "Rule": "graphrewrite.rules.rule",
    "Group": "graphrewrite.rules.rule",
    "Pass": "graphrewrite.rules.rule",
    "Schedule": "graphrewrite.rules.rule",
    "RuleSet": "graphrewrite.rules.rule",
    "Param": "graphrewrite.rules.params",
    "Kind": "graphrewrite.rules.params",
    "Facts": "graphrewrite.rules.facts",
    "Checked": "graphrewrite.rules.facts",
    "load_rules_file": "graphrewrite.rules.loader",
    "load_rules_text": "graphrewrite.rules.loader",
    "op": "graphrewrite.engine.pattern",
    "const": "graphrewrite.engine.pattern",
    "Op": "graphrewrite.engine.pattern",
    "Tensor": "graphrewrite.engine.pattern",
    "Match": "graphrewrite.engine.pattern",
    "Rewrite": "graphrewrite.engine.rewrite",
    "Context": "graphrewrite.engine.driver",
    "Graph": "graphrewrite.engine.graph",
    "Node": "graphrewrite.engine.graph",
    "TensorRef": "graphrewrite.engine.graph",
    # errors
    "GraphRewriteError": "graphrewrite.engine.errors",
    "LanguageError": "graphrewrite.engine.errors",
    "UsageError": "graphrewrite.engine.errors",
    "GraphFileError": "graphrewrite.engine.errors",
    "GraphError": "graphrewrite.engine.errors",
    "RuleError": "graphrewrite.engine.errors",
    "SaturationError": "graphrewrite.engine.errors",
    "DependencyError": "graphrewrite.engine.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graphrewrite' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from graphrewrite.engine.driver import Context
    from graphrewrite.engine.errors import (
        DependencyError,
        GraphError,
        GraphFileError,
        GraphRewriteError,
        LanguageError,
        RuleError,
        SaturationError,
        UsageError,
    )
    from graphrewrite.engine.graph import Graph, Node, TensorRef
    from graphrewrite.engine.pattern import Match, Op, Tensor, const, op
    from graphrewrite.engine.rewrite import Rewrite
    from graphrewrite.io import load_graph, save_graph
    from graphrewrite.pipeline import Result, compile_pipeline, run_pipeline, transform_graph
    from graphrewrite.rules.facts import Checked, Facts
    from graphrewrite.rules.loader import load_rules_file, load_rules_text
    from graphrewrite.rules.params import Kind, Param
    from graphrewrite.rules.rule import Group, Pass, Rule, RuleSet, Schedule
    from graphrewrite.stdlib_rules import standard_rules
    from graphrewrite.verification import VerifyReport, verify

__all__ = [
    "Checked",
    "Context",
    "DependencyError",
    "Facts",
    "Graph",
    "GraphDef",
    "GraphError",
    "GraphFileError",
    "GraphRewriteError",
    "Group",
    "Kind",
    "LanguageError",
    "Match",
    "Node",
    "Op",
    "Param",
    "Pass",
    "Result",
    "Rewrite",
    "Rule",
    "RuleError",
    "RuleSet",
    "SaturationError",
    "Schedule",
    "Tensor",
    "TensorRef",
    "UsageError",
    "VerifyReport",
    "__version__",
    "compile_pipeline",
    "const",
    "load_graph",
    "load_rules_file",
    "load_rules_text",
    "op",
    "run_pipeline",
    "save_graph",
    "standard_rules",
    "transform_graph",
    "verify",
]
