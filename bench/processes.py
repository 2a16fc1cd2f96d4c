"""Start the benchmark's helper processes: the fast upstream."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.component import ROOT

__all__ = ["Upstream", "upstream"]


@dataclass
class Upstream:
    proc: subprocess.Popen[bytes]
    root: str

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def stats(self) -> dict[str, int]:
        data: dict[str, int] = httpx.get(f"{self.root}/stats", timeout=10).json()
        return data


@contextlib.contextmanager
def upstream(*, delay: float = 0.0, faults: str = "", hang: float = 30.0) -> Iterator[Upstream]:
    with tempfile.TemporaryDirectory(prefix="pyllm-upstream-") as tmp:
        port_file = Path(tmp) / "port"
        args = [sys.executable, "-m", "bench.upstream", "--port-file", str(port_file)]
        args += ["--delay", str(delay), "--hang", str(hang)]
        if faults:
            args += ["--faults", faults]
        proc = subprocess.Popen(args, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the benchmark upstream did not start")
                time.sleep(0.05)
            yield Upstream(proc, f"http://127.0.0.1:{port_file.read_text()}")
        finally:
            proc.terminate()
            proc.wait(10)
