"""Runs last: no API key and no PII value used by the tests leaked anywhere we can see.

It reads every log record captured in this process during the session (all
levels) and every log file the component and daprd processes wrote under the
session's temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SESSION_LOG
from tests.support.sensitive import find_leaks


def test_no_secret_or_pii_in_in_process_logs(request: pytest.FixtureRequest) -> None:
    lines = request.config.stash[SESSION_LOG]
    leaks = {leak for line in lines for leak in find_leaks(line)}
    assert not leaks, f"in-process log records carry {sorted(leaks)}"


def test_no_secret_or_pii_in_process_log_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = Path(tmp_path_factory.getbasetemp())
    logs = [p for p in base.rglob("*.log") if p.is_file()]
    leaking = {str(p.relative_to(base)): find_leaks(p.read_text(errors="replace")) for p in logs}
    leaking = {k: v for k, v in leaking.items() if v}
    assert not leaking, f"log files carry secrets or PII: {leaking}"
