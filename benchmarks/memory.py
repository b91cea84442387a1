"""Peak resident memory of a block of code, as the kernel sees it (C++ allocations included).

On Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the process's high-water mark
(``VmHWM``), so the peak of one block can be read exactly afterwards. Where that is not
allowed, a thread samples ``VmRSS`` every millisecond instead (which can miss short spikes).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def rss_bytes() -> int | None:
    """Current resident set size, or None where /proc is unavailable."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PeakMeter:
    """``with PeakMeter() as m: ...`` then ``m.peak``: bytes of RSS above the level at entry
    (0 when the block allocated nothing resident; -1 when memory cannot be measured)."""

    def __init__(self, interval: float = 0.001):
        self.peak = -1
        self._interval = interval
        self._base: int | None = None
        self._exact = False
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMeter:
        self._base = rss_bytes()
        self._exact = _reset_high_water_mark() and _status_kib("VmHWM") is not None
        if self._base is not None and not self._exact:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._sampled = max(self._sampled, rss_bytes() or 0)

    def __exit__(self, *exc: object) -> None:
        if self._base is None:
            return
        if self._exact:
            top = (_status_kib("VmHWM") or 0) * 1024
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            top = max(self._sampled, rss_bytes() or 0)
        self.peak = max(top - self._base, 0)
