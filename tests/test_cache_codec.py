"""Cache keys and sealed entries: canonical, keyed, and unreadable without the request."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from component.cache.codec import KeyRing, UncacheableError, canonical_request
from component.cache.entry import Answer
from component.conversation import (
    Choice,
    CompletionTokensDetails,
    FunctionCall,
    Output,
    PromptTokensDetails,
    Response,
    ResultMessage,
    ToolCall,
    Usage,
)
from component.metrics import Metrics
from tests.support.cache import PII_VALUES, PROMPTS, CountingProvider, Rig, ask, event_count

IDENTITY = {"provider": "p", "endpoint": "e", "model": "m"}

RICH = Response(
    outputs=(
        Output(
            stop_reason="tool_calls",
            choices=(
                Choice(
                    finish_reason="tool_calls",
                    index=0,
                    message=ResultMessage(
                        content=f"call {PII_VALUES[0]} \u00e9\u2603",
                        tool_calls=(ToolCall("c1", "function", FunctionCall("f", '{"a":1}')),),
                    ),
                ),
            ),
        ),
    ),
    model="model-a",
    context_id="ctx",
    usage=Usage(
        prompt_tokens=5,
        completion_tokens=7,
        total_tokens=12,
        prompt_details=PromptTokensDetails(cached_tokens=2),
        completion_details=CompletionTokensDetails(reasoning_tokens=3),
    ),
)


def test_canonical_form_ignores_mapping_order() -> None:
    one = ask(PROMPTS[0], parameters={"a": 1, "b": {"x": 1, "y": 2}}, metadata={"u": "1", "v": "2"})
    two = ask(PROMPTS[0], parameters={"b": {"y": 2, "x": 1}, "a": 1}, metadata={"v": "2", "u": "1"})
    assert canonical_request("i", IDENTITY, one) == canonical_request("i", IDENTITY, two)


def test_canonical_form_depends_on_instance_and_identity() -> None:
    request = ask(PROMPTS[0])
    base = canonical_request("i", IDENTITY, request)
    assert canonical_request("j", IDENTITY, request) != base
    assert canonical_request("i", {**IDENTITY, "endpoint": "other"}, request) != base


def test_a_value_without_canonical_form_is_uncacheable() -> None:
    with pytest.raises(UncacheableError):
        canonical_request("i", IDENTITY, ask("x", parameters={"top_p": float("nan")}))


async def test_an_uncacheable_request_passes_through(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "cache", provider=CountingProvider(), metrics=Metrics())
    request = ask(PROMPTS[0], parameters={"top_p": float("nan")})
    await rig.cache.converse(request)
    await rig.cache.converse(request)
    assert rig.provider.calls == 2
    assert event_count(rig.metrics, "chat", "diskcache", "uncacheable") == 2
    await rig.cache.aclose()


def test_sealed_entries_open_only_with_their_own_keys() -> None:
    ring = KeyRing(b"s" * 32)
    material = canonical_request("i", IDENTITY, ask(PROMPTS[0]))
    keys = ring.keys_for(material)
    blob = keys.seal(Answer(RICH))
    assert keys.unseal(blob) == Answer(RICH)
    assert PII_VALUES[0].encode() not in blob
    other = ring.keys_for(canonical_request("i", IDENTITY, ask(PROMPTS[1])))
    moved = dataclasses.replace(keys, lookup=other.lookup)
    for reason, wrong, data in [
        ("another request's keys", other, blob),
        ("copied under another lookup key", moved, blob),
        ("another secret", KeyRing(b"t" * 32).keys_for(material), blob),
        ("a flipped byte", keys, blob[:-1] + bytes([blob[-1] ^ 1])),
        ("truncated", keys, blob[:10]),
        ("not ours at all", keys, b"\x80\x04pickle"),
    ]:
        with pytest.raises(ValueError):  # noqa: PT011 - every case is a ValueError
            wrong.unseal(data)
        assert reason


def test_lookup_keys_are_hmacs_that_depend_on_the_secret() -> None:
    material = canonical_request("i", IDENTITY, ask(PROMPTS[0]))
    one, two = KeyRing(b"a" * 32).keys_for(material), KeyRing(b"b" * 32).keys_for(material)
    assert len(one.lookup) == 64
    assert one.lookup != two.lookup
    assert one.sealing != two.sealing
    assert PROMPTS[0] not in one.lookup


def test_an_echoed_context_id_is_not_stored_and_is_handed_back() -> None:
    answer = Answer.of(RICH, "ctx")
    assert answer.context_echoed
    assert answer.response.context_id == ""
    assert answer.for_caller("mine").context_id == "mine"
    own = Answer.of(RICH, "something-else")
    assert own.for_caller("mine").context_id == "ctx"
