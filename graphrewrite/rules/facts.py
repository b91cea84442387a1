"""What a transform declares about itself beside its code: how lossy it is, how to test it.

A standard transform carries its :class:`Facts`; nothing else lists them. ``verify`` and
``transform --verify`` read the tolerance of lossy steps from here, and the property tests
read how to generate graphs for a transform (a Pass needs graphs shaped for what it rewrites)
and what else it promises. Facts are data: case generators and promises are named, and live in
:mod:`graphrewrite.testing.cases` and :mod:`graphrewrite.testing.promises`, so declaring them
imports neither hypothesis nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

Tolerance = tuple[float, float]  # (rtol, atol), numpy's allclose rule per element


@attrs.frozen
class Checked:
    """How the property tests exercise a transform (the defaults suit pattern rules: graphs are
    built from the pattern, and the outputs must not change).

    ``cases`` names a generator in ``graphrewrite.testing.cases`` (None: from the pattern, or
    palette graphs for a Pass); ``args`` are the transform's arguments there; ``promise`` names a
    check in ``graphrewrite.testing.promises``, then its arguments; ``fires=False`` says
    generated graphs cannot trigger the transform, so its property is that it changes no
    outputs; ``numeric=False`` skips comparing outputs (values change on purpose);
    ``tolerance`` overrides the transform's documented one on small random graphs.
    """

    cases: str | None = None
    args: Mapping[str, Any] = attrs.field(factory=dict)
    promise: tuple[Any, ...] = ()
    fires: bool = True
    numeric: bool = True
    examples: int | None = None
    tolerance: Tolerance | None = None


@attrs.frozen
class Facts:
    """A transform's declared facts.

    ``lossy`` is the ``(rtol, atol)`` its output may drift by at its default arguments (None:
    lossless); ``scaled`` adjusts it for other arguments (``round_weights(num_steps=16)``).
    """

    lossy: Tolerance | None = None
    scaled: Callable[[Mapping[str, Any], Tolerance], Tolerance] | None = attrs.field(default=None, eq=False)
    checked: Checked = Checked()

    def tolerance(self, args: Mapping[str, Any]) -> Tolerance | None:
        """The drift allowed with *args*, or None for a lossless transform."""
        if self.lossy is None:
            return None
        return self.scaled(args, self.lossy) if self.scaled is not None else self.lossy


LOSSLESS = Facts()
