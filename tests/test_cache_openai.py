"""The whole pipeline (cache, usage, openai provider) against the local OpenAI-compatible server.

The server counts what truly reaches the upstream: HTTP requests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from component.pipeline import build_pipeline
from component.resources import ProcessResources
from tests.support.cache import PII_VALUES, PROMPTS, ask, event_count, plaintext_in_folder
from tests.support.fixtures import openai_server_fixture  # noqa: F401 - a fixture
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.sensitive import register

KEY = "sk-cache-test-0123456789"
register(KEY)


async def test_100_identical_concurrent_requests_reach_the_server_once(
    openai_server: OpenAIServer,
    tmp_path: Path,
) -> None:
    openai_server.default = Reply(delay=0.3)
    resources = ProcessResources()
    settings = {
        "provider": "openai",
        "endpoint": openai_server.base_url,
        "key": KEY,
        "model": "gpt-4o-mini",
        "cacheTTL": "1m",
        "cacheDir": str(tmp_path / "cache"),
    }
    pipeline = build_pipeline("chat", settings, resources)
    prompt = f"{PROMPTS[0]} for {PII_VALUES[0]}"
    answers = await asyncio.gather(*(pipeline.converse(ask(prompt)) for _ in range(100)))
    assert len(openai_server.requests) == 1
    assert {a.outputs[0].choices[0].message.content for a in answers} == {f"echo: {prompt}"}
    assert event_count(resources.metrics, "chat", "diskcache", "miss") == 1

    hit = await pipeline.converse(ask(prompt))
    assert len(openai_server.requests) == 1
    assert hit.usage == answers[0].usage
    assert hit.model == "gpt-4o-mini"

    other_model = await pipeline.converse(ask(prompt, metadata={"model": "gpt-4o"}))
    assert len(openai_server.requests) == 2
    assert other_model.model == "gpt-4o"
    await pipeline.aclose()
    assert plaintext_in_folder(tmp_path / "cache", (*PROMPTS, *PII_VALUES, KEY)) == {}
