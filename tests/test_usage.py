"""UsageAccounting: token counts the upstream omits, the maxInputTokens guard,
and what happens without the encoding file, with a counting fake provider and
through the real pipeline against the local OpenAI-compatible server."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from component.conversation import Choice, Output, Request, Response, ResultMessage, Usage
from component.errors import InvalidRequestError, InvalidSettingError
from component.metrics import Metrics
from component.pipeline import build_pipeline
from component.provider import Provider
from component.resources import ProcessResources
from component.settings import Properties
from component.stages.usage import UsageAccounting
from component.tokens import TokenEncodings, openai_sources
from tests.support.chat import KEY, human, request
from tests.support.fixtures import openai_server_fixture  # noqa: F401 - a fixture
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.tiny_bpe import TINY, install_tiny_encoding

ANSWER = Response(
    outputs=(Output("stop", (Choice("stop", 0, ResultMessage("hello hello")),)),), model="m-1"
)


class CountingProvider(Provider):
    """A fake of our own interface: a fixed answer, and the requests it saw."""

    def __init__(self, answer: Response = ANSWER, model: str = "gpt-4o") -> None:
        self.answer = answer
        self.model = model
        self.seen: list[Request] = []
        self.closed = False

    async def converse(self, request: Request) -> Response:
        self.seen.append(request)
        return self.answer

    def identity(self, request: Request) -> Mapping[str, str]:
        return {"provider": "counting", "model": request.metadata.get("model", self.model)}

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tiktoken"
    folder.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def resources(cache_dir: Path) -> ProcessResources:
    """The real encodings (absent here) plus the tiny one the tests build."""
    return ProcessResources(
        encodings=TokenEncodings({**openai_sources(), TINY: install_tiny_encoding(cache_dir)})
    )


def stage(inner: Provider, resources: ProcessResources, **metadata: str) -> UsageAccounting:
    return UsageAccounting.from_properties(inner, Properties(metadata), resources, instance="chat")


def tokens(metrics: Metrics, direction: str, source: str, model: str = "m-1") -> float:
    value = metrics.registry.get_sample_value(
        "pyllm_tokens_total",
        {"instance": "chat", "model": model, "direction": direction, "source": source},
    )
    return value or 0.0


async def test_counts_usage_the_upstream_omitted(resources: ProcessResources) -> None:
    inner = CountingProvider()
    usage = await stage(inner, resources, encoding=TINY).converse(request(human("hello")))
    # prompt: 3 + (3 + "user" 4 + "hello" 1); completion: "hello hello" is 3
    assert usage.usage == Usage(prompt_tokens=11, completion_tokens=3, total_tokens=14)
    assert tokens(resources.metrics, "prompt", "tiktoken") == 11
    assert tokens(resources.metrics, "completion", "tiktoken") == 3


async def test_keeps_the_upstreams_usage(resources: ProcessResources) -> None:
    given = Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120)
    inner = CountingProvider(replace(ANSWER, usage=given))
    answer = await stage(inner, resources, encoding=TINY).converse(request())
    assert answer.usage is given
    assert tokens(resources.metrics, "prompt", "upstream") == 100
    assert tokens(resources.metrics, "completion", "upstream") == 20
    assert tokens(resources.metrics, "prompt", "tiktoken") == 0


async def test_without_the_encoding_usage_stays_absent(
    resources: ProcessResources, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    accounting = stage(CountingProvider(model="gpt-4o"), resources)  # o200k_base: not cached
    for _ in range(3):
        answer = await accounting.converse(request())
        assert answer.usage is None  # never a guess passed off as a count
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("tiktoken encoding o200k_base is not available offline")


async def test_no_outputs_no_counting(resources: ProcessResources) -> None:
    inner = CountingProvider(Response(outputs=()))
    assert (await stage(inner, resources, encoding=TINY).converse(request())).usage is None


async def test_max_input_tokens_refuses_before_any_upstream_call(
    resources: ProcessResources,
) -> None:
    inner = CountingProvider()
    guard = stage(inner, resources, encoding=TINY, maxInputTokens="11")
    assert (await guard.converse(request(human("hello")))).usage is not None  # 11 tokens: fine
    with pytest.raises(
        InvalidRequestError,
        match=re.escape(
            f"the prompt has 12 tokens (counted with {TINY}), over maxInputTokens 11: shorten it"
        ),
    ):
        await guard.converse(request(human("hi")))
    assert len(inner.seen) == 1


def test_max_input_tokens_cannot_be_enforced_without_the_encoding(
    resources: ProcessResources,
) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        stage(CountingProvider(model="gpt-4o"), resources, maxInputTokens="1000")
    assert str(caught.value).startswith(
        "metadata field 'maxInputTokens': cannot be enforced: tiktoken encoding o200k_base "
        "(for model 'gpt-4o') is not available offline: "
    )
    assert str(caught.value).endswith("put the file in TIKTOKEN_CACHE_DIR or remove maxInputTokens")


async def test_a_model_override_needing_a_missing_encoding_is_refused(cache_dir: Path) -> None:
    # o200k_base is "available" (the tiny file stands in for it); cl100k_base is not.
    tiny = install_tiny_encoding(cache_dir)
    resources = ProcessResources(
        encodings=TokenEncodings(
            {
                "o200k_base": replace(tiny, name="o200k_base"),
                "cl100k_base": openai_sources()["cl100k_base"],
            }
        )
    )
    inner = CountingProvider(model="gpt-4o")
    guard = stage(inner, resources, maxInputTokens="1000")
    await guard.converse(request())
    with pytest.raises(
        InvalidRequestError,
        match=re.escape(
            "cannot count the prompt's tokens to enforce maxInputTokens: tiktoken encoding "
            "cl100k_base (for model 'gpt-4') is not available offline"
        ),
    ):
        await guard.converse(request(metadata={"model": "gpt-4"}))
    assert len(inner.seen) == 1


def test_encoding_setting_is_checked(resources: ProcessResources) -> None:
    with pytest.raises(
        InvalidSettingError,
        match="metadata field 'encoding': 'o100k' is not one of o200k_base, cl100k_base",
    ):
        stage(CountingProvider(), resources, encoding="o100k")
    with pytest.raises(
        InvalidSettingError, match="metadata field 'maxInputTokens': -1 is below the minimum 0"
    ):
        stage(CountingProvider(), resources, maxInputTokens="-1")


async def test_the_stage_is_transparent(resources: ProcessResources) -> None:
    inner = CountingProvider()
    inner.features = ("x",)
    accounting = stage(inner, resources)
    assert accounting.features == ("x",)
    assert accounting.identity(request()) == {"provider": "counting", "model": "gpt-4o"}
    await accounting.aclose()
    assert inner.closed


# --- through the pipeline, against the real server -----------------------------------


async def test_pipeline_counts_usage_for_a_compatible_server(
    openai_server: OpenAIServer, resources: ProcessResources, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    openai_server.default = Reply(usage=False, content="hello")
    pipeline = build_pipeline(
        "chat",
        {
            "provider": "openai",
            "endpoint": openai_server.base_url,
            "key": KEY,
            "model": "llama3.2",
            "encoding": TINY,
            "maxInputTokens": "50",
            "maxRetries": "0",
        },
        resources,
    )
    try:
        answer = await pipeline.converse(request(human("hello")))
        assert answer.usage == Usage(prompt_tokens=11, completion_tokens=1, total_tokens=12)
        with pytest.raises(InvalidRequestError, match="over maxInputTokens 50"):
            await pipeline.converse(request(human("x" * 60)))
        assert len(openai_server.requests) == 1
    finally:
        await pipeline.aclose()
    assert KEY not in caplog.text


async def test_pipeline_init_fails_when_the_guard_cannot_count(
    openai_server: OpenAIServer, resources: ProcessResources
) -> None:
    with pytest.raises(
        InvalidSettingError, match="tiktoken encoding o200k_base \\(for model 'gpt-4o'\\)"
    ):
        build_pipeline(
            "chat",
            {
                "provider": "openai",
                "endpoint": openai_server.base_url,
                "model": "gpt-4o",
                "maxInputTokens": "10",
            },
            resources,
        )
