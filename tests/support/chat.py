"""Small builders of domain requests and OpenAI providers for the provider tests."""

from __future__ import annotations

from typing import Any

from component.conversation import Message, Request, Role, TextPart
from component.metrics import Metrics
from component.providers.openai import OpenAIProvider, OpenAISettings
from component.providers.retrying import RetryPolicy
from tests.support.openai_server import OpenAIServer

__all__ = ["FAST_RETRY", "KEY", "human", "make_provider", "request"]

#: The API key the tests configure; it must never show up in logs or errors.
KEY = "sk-test-Zq8v3KEYMUSTNEVERLEAK"

#: Retries that do not slow the suite down.
FAST_RETRY = RetryPolicy(max_retries=2, attempt_timeout=10.0, backoff=0.01, max_delay=2.0)


def human(*texts: str) -> Message:
    return Message(Role.HUMAN, tuple(TextPart(t) for t in texts))


def request(*messages: Message, **fields: Any) -> Request:
    return Request(messages=messages or (human("hello"),), **fields)


def make_provider(
    server: OpenAIServer,
    *,
    metrics: Metrics | None = None,
    retry: RetryPolicy = FAST_RETRY,
    **settings: Any,
) -> OpenAIProvider:
    """A provider aimed at ``server`` (OpenAI shape unless ``api_type="azure"``)."""
    azure = settings.get("api_type") == "azure"
    settings.setdefault("key", KEY)
    settings.setdefault("model", "gpt-4o-mini")
    settings.setdefault("endpoint", server.root if azure else server.base_url)
    if azure:
        settings.setdefault("api_version", "2024-10-21")
    return OpenAIProvider(OpenAISettings(retry=retry, **settings), metrics=metrics)
