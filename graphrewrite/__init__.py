"""graphrewrite: freeze, rewrite and verify TensorFlow GraphDefs with declarative rules.

The public API is small and imports TensorFlow only when a function needs it::

    import graphrewrite
    graph_def = graphrewrite.load_graph("model.pb")
    out = graphrewrite.transform_graph(graph_def, ["input"], ["logits"],
                                       "fold_constants(ignore_errors=true) fold_batch_norms")
    graphrewrite.save_graph(out, "optimized.pb")
"""

from __future__ import annotations

from typing import Any

from graphrewrite.engine.errors import GraphRewriteError, LanguageError
from graphrewrite.io import load_graph, save_graph
from graphrewrite.pipeline import compile_pipeline, run_pipeline, transform_graph

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # ``graphrewrite.verify`` is a module that is also callable (``graphrewrite.verify(a, b,
    # inputs, outputs)``); it is imported on first use so ``import graphrewrite`` stays light.
    if name == "verify":
        import importlib

        return importlib.import_module("graphrewrite.verify")
    raise AttributeError(f"module 'graphrewrite' has no attribute '{name}'")


def standard_rules() -> Any:
    """The standard transforms as a RuleSet."""
    from graphrewrite.stdlib_rules import standard_rules as _standard

    return _standard()


__all__ = [
    "GraphRewriteError",
    "LanguageError",
    "__version__",
    "compile_pipeline",
    "load_graph",
    "run_pipeline",
    "save_graph",
    "standard_rules",
    "transform_graph",
    "verify",
]
