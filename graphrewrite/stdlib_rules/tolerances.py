"""How far a graph may drift after the lossy transforms: ``(rtol, atol)`` for ``--verify``.

The check is numpy's ``allclose`` rule, per output element: ``|new - old| <= atol + rtol*|old|``.
The numbers come from the per-weight bounds (docs/compression.md) and were checked on frozen
Keras MobileNetV2 (random weights, randomised batch-norm statistics), where e.g.
``quantize_weights`` moves the logits by 0.7% of their largest magnitude. Lossless transforms
add nothing beyond the float32 base; the tolerances of several lossy steps add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

BASE = (1e-4, 1e-5)  # float32 re-association, as ``verify``'s float32 default


def lossy_transforms() -> dict[str, tuple[float, float]]:
    """Every standard lossy transform -> its ``(rtol, atol)`` at default arguments (its facts)."""
    from graphrewrite.stdlib_rules import standard_rules

    return {t.name: t.facts.lossy for t in standard_rules() if t.facts.lossy is not None}


def _entry(item: Any) -> tuple[Any, Mapping[str, Any]]:
    """The transform (or its name) and arguments of a transform name, a ``(name or transform,
    args)`` pair, or anything with ``.name`` and ``.args`` (a pipeline ``Step``, whose facts
    are its own)."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], dict(item[1] or {})
    return getattr(item, "transform", None) or str(item.name), dict(getattr(item, "args", {}) or {})


def tolerance_for(transforms: Iterable[Any], *, base: tuple[float, float] = BASE) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing a graph before and after *transforms*.

    Items are transform names, ``(name, args)`` pairs or pipeline steps; each lossy transform
    adds the tolerance its facts declare for its arguments (fewer ``round_weights`` steps,
    larger error; ``cast_weights`` to bfloat16). Lossless and unknown names add nothing, so
    ``tolerance_for([])`` is *base*.
    """
    from graphrewrite.stdlib_rules import standard_rules

    rtol, atol = base
    for item in transforms:
        transform, args = _entry(item)
        if isinstance(transform, str):
            transform = standard_rules().get(transform)
        facts = getattr(transform, "facts", None)
        extra = facts.tolerance(args) if facts is not None else None
        if extra is not None:
            rtol, atol = rtol + extra[0], atol + extra[1]
    return rtol, atol


def is_lossy(steps: Iterable[Any]) -> bool:
    """Whether any pipeline step changes values on purpose (its facts declare a tolerance)."""
    return any(step.transform.facts.lossy is not None for step in steps)
