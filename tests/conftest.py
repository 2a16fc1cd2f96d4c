"""Fixtures shared by the test modules: the real component over its real socket."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.component import ComponentClient, ComponentProcess

#: Every log record of the session, at every level, for tests/test_zz_leaks.py.
SESSION_LOG = pytest.StashKey[list[str]]()


class _SessionLog(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.append(self.format(record))
        except Exception:
            self.sink.append(repr(record.msg))


def pytest_configure(config: pytest.Config) -> None:
    sink: list[str] = []
    config.stash[SESSION_LOG] = sink
    root = logging.getLogger()
    root.addHandler(_SessionLog(sink))
    root.setLevel(logging.DEBUG)


@pytest.fixture
def sockets_folder(tmp_path: Path) -> Path:
    # Unix socket paths are limited to ~107 bytes: keep the folder short.
    folder = tmp_path / "s"
    folder.mkdir()
    return folder


@pytest.fixture
def component(sockets_folder: Path) -> Iterator[ComponentProcess]:
    with ComponentProcess(sockets_folder, args=["--log-level", "debug"]) as proc:
        yield proc


@pytest.fixture
async def client(component: ComponentProcess) -> AsyncIterator[ComponentClient]:
    c = ComponentClient(component.socket)
    yield c
    await c.close()
