"""Every numpy kernel, registered: import KERNELS from here, not from ``engine.kernels``.

``engine.kernels`` holds the registry and the shared helpers; the kernel modules register into it
when imported. Importing them here, in one module that depends on all three, keeps the
dependency one way (no module imports a module that imports it).
"""

from __future__ import annotations

from graphrewrite.engine import array_kernels, math_kernels  # noqa: F401  (register their kernels)
from graphrewrite.engine.kernels import KERNELS

__all__ = ["KERNELS"]
