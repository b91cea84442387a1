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

# transform -> (rtol, atol) at its default arguments
LOSSY: Mapping[str, tuple[float, float]] = {
    "quantize_weights": (5e-2, 1e-2),  # each weight within 1.5 steps of (max-min)/255
    "round_weights": (5e-2, 1e-2),  # each weight within half a bucket of (max-min)/num_steps
    "cast_weights": (1e-2, 1e-3),  # float16: each weight within 2**-11 relative
    "quantize_nodes": (1e-1, 5e-2),  # activations too: each stage within a step of its range
    "freeze_requantization_ranges": (2e-1, 1e-1),  # percentile ranges clip outliers
    "sparsify_gather": (1e-6, 1e-5),  # table entries below 1e-5 become 0
}


def _entry(item: Any) -> tuple[str, Mapping[str, Any]]:
    """A transform name, a ``(name, args)`` pair, or anything with ``.name`` and ``.args``
    (a pipeline ``Step``)."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, tuple) and len(item) == 2:
        return str(item[0]), dict(item[1] or {})
    return str(item.name), dict(getattr(item, "args", {}) or {})


def _scaled(name: str, args: Mapping[str, Any]) -> tuple[float, float]:
    rtol, atol = LOSSY[name]
    if name == "round_weights":
        factor = 256 / max(int(args.get("num_steps") or 256), 1)
        return rtol * factor, atol * factor
    if name == "cast_weights" and str(args.get("dtype") or "float16") == "bfloat16":
        return 5e-2, 1e-2  # bfloat16 keeps 8 bits of mantissa: 2**-8 relative per weight
    return rtol, atol


def tolerance_for(transforms: Iterable[Any], *, base: tuple[float, float] = BASE) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing a graph before and after *transforms*.

    Items are transform names, ``(name, args)`` pairs or pipeline steps; arguments matter for
    ``round_weights`` (fewer steps, larger error) and ``cast_weights`` (bfloat16). Unknown and
    lossless names contribute nothing, so ``tolerance_for([])`` is *base*.
    """
    rtol, atol = base
    for item in transforms:
        name, args = _entry(item)
        if name in LOSSY:
            extra_rtol, extra_atol = _scaled(name, args)
            rtol, atol = rtol + extra_rtol, atol + extra_atol
    return rtol, atol
