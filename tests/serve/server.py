"""Start ``graphrewrite serve`` as a subprocess on a free port and stop it by its pid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

_READY = re.compile(r"^serving (.+) at (http://[\d.]+:\d+)$")
REPO = Path(__file__).resolve().parents[2]


class Server:
    """A running server process: its base URL, the ready line, and a clean stop."""

    def __init__(self, *args: str, timeout: float = 120):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "graphrewrite", "serve", "--rest_api_port=0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        self.ready_line = self._wait_ready(timeout)
        match = _READY.match(self.ready_line)
        assert match, f"unexpected ready line: {self.ready_line!r}"
        self.url = match.group(2)

    def _wait_ready(self, timeout: float) -> str:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            self.process.kill()
            _out, err = self.process.communicate()
            raise AssertionError(f"server did not start: {err[-2000:]}")
        return box[0].rstrip("\n")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str, str]:
        """Signal the process, wait for it; (exit status, rest of stdout, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err

    @property
    def pid(self) -> int:
        return self.process.pid
