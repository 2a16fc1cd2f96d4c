"""Fixtures of the OpenAI-compatible test server; import them where needed.

``from tests.support.fixtures import openai_server_fixture  # noqa: F401``

The fixture is *named* ``openai_server`` (tests take ``openai_server``); its
function has another name so that importing it shadows no test parameter.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openai_server import OpenAIServer

__all__ = ["openai_server_fixture"]


@pytest.fixture(name="openai_server")
def openai_server_fixture() -> Iterator[OpenAIServer]:
    """A fresh server on a free loopback port, stopped after the test."""
    with OpenAIServer() as server:
        yield server
