"""Fixtures shared by the test modules: the real component over its real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.component import ComponentClient, ComponentProcess


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
