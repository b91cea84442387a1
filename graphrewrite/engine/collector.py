"""Pausing Python's cyclic garbage collector around graph-sized work.

Loading and rewriting a large graph allocates hundreds of thousands of small objects while
millions of live ones (the graph itself) already exist; every full collection walks all of
them, which made loads and passes two to three times slower on a 170k-node graph. The engine
and the standard passes create no reference cycles, so the collector is paused while they run
(reference counting still frees everything) and restored afterwards.

Restoring it naively costs one more walk: the first collection afterwards traverses every
object created during the pause (0.1 s per 170k-node graph). So on the way out the objects
are promoted straight to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``, two
O(1) list splices), where they wait for the next full collection like any long-lived data.
This is skipped when the caller has frozen objects of its own, which must stay frozen.

A library must not change its host process's collector behind its back, so pausing is opt-in:
the command line turns it on (:func:`allow_pausing`); an embedding application may too, when it
knows no other thread of its own relies on timely collection. Off, every pause is a no-op.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_allowed = False  # set by allow_pausing(): the CLI's own process, or an embedder that opts in


def allow_pausing(allowed: bool = True) -> None:
    """Let graph-sized work pause the cyclic collector (the CLI does; embedders may)."""
    global _allowed
    _allowed = allowed


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """``with collector_paused(): ...``; nests, and restores the collector's previous state."""
    if not _allowed or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def paused(fn: F) -> F:
    """Decorator form of :func:`collector_paused`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with collector_paused():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
