"""The scrubbing stage over a recording provider: what the provider sees, what the caller gets."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest

from component.conversation import (
    FunctionCall,
    Message,
    Request,
    Response,
    Role,
    TextPart,
    ToolCall,
    ToolResult,
)
from component.errors import InvalidRequestError
from component.metrics import Metrics
from component.pii.engine import PiiEngine
from component.pii.settings import read_pii_settings
from component.settings import Properties
from component.stages.scrub import PiiScrubber
from tests.support.pii import RecordingProvider, all_strings, answer, shared_engine
from tests.support.sensitive import register

EMAIL = "jane.roe@example.org"
PHONE = "+2222222222"
CARD = "4111 1111 1111 1111"
SSN = "536-22-1234"
IP = "203.0.113.195"
VALUES = (EMAIL, PHONE, CARD, SSN, IP)
register(*VALUES)  # the session's leak check looks for them too


@pytest.fixture(scope="module")
def engine() -> PiiEngine:
    return shared_engine()


def scrubber(
    engine: PiiEngine,
    inner: RecordingProvider,
    metrics: Metrics | None = None,
    **fields: str,
) -> PiiScrubber:
    return PiiScrubber(
        inner,
        settings=read_pii_settings(Properties(fields)),
        engine=engine,
        metrics=metrics or Metrics(),
        instance="test",
    )


def text(role: Role, value: str) -> Message:
    return Message(role, (TextPart(value),))


def full_request(**metadata: str) -> Request:
    """PII in every role, in a tool call's arguments and in a tool result."""
    return Request(
        messages=(
            text(Role.SYSTEM, f"Operator mail: {EMAIL}"),
            text(Role.DEVELOPER, f"Escalations: {PHONE}"),
            text(Role.HUMAN, f"My card is {CARD}."),
            text(Role.GENERIC, f"SSN {SSN}"),
            Message(
                Role.AI,
                (
                    TextPart("Looking you up."),
                    ToolCall(
                        "c1",
                        "function",
                        FunctionCall("lookup", json.dumps({"email": EMAIL, "ip": IP, "n": 3})),
                    ),
                ),
            ),
            Message(Role.TOOL, (ToolResult("c1", "lookup", f"found {EMAIL} at {IP}"),)),
            text(Role.FUNCTION, f"last login from {IP}"),
        ),
        metadata=metadata,
    )


def leaked(strings: list[str]) -> list[str]:
    return [value for value in VALUES if any(value in s for s in strings)]


async def test_every_role_and_tool_data_is_scrubbed_before_the_provider(engine: PiiEngine) -> None:
    inner = RecordingProvider()
    await scrubber(engine, inner, scrubPII="input").converse(full_request())
    [seen] = inner.requests
    strings = all_strings(seen)
    assert leaked(strings) == []
    assert strings[0] == "Operator mail: <EMAIL_ADDRESS>"
    assert "My card is <CREDIT_CARD>." in strings
    assert "found <EMAIL_ADDRESS> at <IP>" in strings
    call = next(p for m in seen.messages or () for p in m.parts if isinstance(p, ToolCall))
    # JSON arguments stay JSON; numbers that are not PII keep their type.
    assert json.loads(call.function.arguments) == {
        "email": "<EMAIL_ADDRESS>",
        "ip": "<IP>",
        "n": 3,
    }


async def test_without_scrubbing_the_provider_sees_the_request_unchanged(
    engine: PiiEngine,
) -> None:
    inner = RecordingProvider()
    request = full_request()
    await scrubber(engine, inner).converse(request)
    assert inner.requests == [request]


@pytest.mark.parametrize("asked", ["none", "output", "NONE"])
async def test_a_request_cannot_lower_the_floor(engine: PiiEngine, asked: str) -> None:
    inner = RecordingProvider()
    await scrubber(engine, inner, scrubPII="input").converse(full_request(scrubPII=asked))
    assert leaked(all_strings(inner.requests[0])) == []


async def test_a_request_can_ask_for_more(engine: PiiEngine) -> None:
    inner = RecordingProvider(answer(f"Your SSN is {SSN}"))
    stage = scrubber(engine, inner, scrubPII="input")
    response = await stage.converse(full_request(scrubPII="output"))
    assert leaked(all_strings(inner.requests[0])) == []
    assert response.outputs[0].choices[0].message.content == "Your SSN is <US_SSN>"

    inner = RecordingProvider()
    await scrubber(engine, inner).converse(full_request(scrubPII="input"))
    assert leaked(all_strings(inner.requests[0])) == []


async def test_an_unknown_request_scope_is_refused(engine: PiiEngine) -> None:
    inner = RecordingProvider()
    with pytest.raises(InvalidRequestError):
        await scrubber(engine, inner, scrubPII="input").converse(full_request(scrubPII="off"))
    assert inner.requests == []


async def test_output_content_and_tool_call_arguments_are_scrubbed(engine: PiiEngine) -> None:
    call = ToolCall("c9", "function", FunctionCall("notify", json.dumps({"to": EMAIL})))
    plain = ToolCall("c10", "function", FunctionCall("dial", f"number={PHONE}"))
    inner = RecordingProvider(answer(f"Card {CARD} on file", (call, plain)))
    response = await scrubber(engine, inner, scrubPII="output").converse(full_request())
    message = response.outputs[0].choices[0].message
    assert message.content == "Card <CREDIT_CARD> on file"
    assert message.tool_calls is not None
    assert json.loads(message.tool_calls[0].function.arguments) == {"to": "<EMAIL_ADDRESS>"}
    assert message.tool_calls[1].function.arguments == "number=<PHONE_NUMBER>"
    # Output only: the provider saw the input as it was.
    assert EMAIL in all_strings(inner.requests[0])[0]


def reversed_echo(request: Request) -> Response:
    """A model that repeats the placeholders it saw, in another order, twice."""
    strings = all_strings(request)
    tokens = re.findall(r"<[A-Z_]+_\d+>", " ".join(strings))
    said = " ".join(reversed(tokens))
    arguments = json.dumps({"who": tokens[0], "all": tokens})
    return answer(f"{said} / {said}", (ToolCall("c2", "function", FunctionCall("f", arguments)),))


async def test_pseudonymise_and_restore_round_trip(engine: PiiEngine) -> None:
    inner = RecordingProvider(reversed_echo)
    stage = scrubber(engine, inner, scrubPII="input", piiMode="pseudonymize", piiRestore="true")
    request = Request(
        messages=(
            text(Role.HUMAN, f"I am {EMAIL}, call {PHONE}; again: {EMAIL}"),
            text(Role.HUMAN, "my other mail is bob@example.com"),
        )
    )
    response = await stage.converse(request)
    strings = all_strings(inner.requests[0])
    # The provider saw stable, numbered placeholders and no value.
    assert strings == [
        "I am <EMAIL_ADDRESS_1>, call <PHONE_NUMBER_1>; again: <EMAIL_ADDRESS_1>",
        "my other mail is <EMAIL_ADDRESS_2>",
    ]
    message = response.outputs[0].choices[0].message
    said = f"bob@example.com {EMAIL} {PHONE} {EMAIL}"
    assert message.content == f"{said} / {said}"
    assert message.tool_calls is not None
    assert json.loads(message.tool_calls[0].function.arguments) == {
        "who": EMAIL,
        "all": [EMAIL, PHONE, EMAIL, "bob@example.com"],
    }


async def test_restore_reads_escaped_placeholders_in_json_arguments(engine: PiiEngine) -> None:
    # Go's encoder (and some models) write < and > as \u003c and \u003e.
    escaped = '{"to": "\\u003cEMAIL_ADDRESS_1\\u003e"}'
    call = ToolCall("c3", "function", FunctionCall("mail", escaped))
    inner = RecordingProvider(answer("", (call,)))
    stage = scrubber(engine, inner, scrubPII="input", piiMode="pseudonymize", piiRestore="true")
    response = await stage.converse(Request(messages=(text(Role.HUMAN, EMAIL),)))
    calls = response.outputs[0].choices[0].message.tool_calls
    assert calls is not None
    assert json.loads(calls[0].function.arguments) == {"to": EMAIL}


async def test_restore_leaves_what_the_model_made_up_and_the_callers_own_tokens(
    engine: PiiEngine,
) -> None:
    inner = RecordingProvider(
        answer("<EMAIL_ADDRESS_1> <EMAIL_ADDRESS_2> <PERSON_7> other@example.net")
    )
    stage = scrubber(engine, inner, scrubPII="both", piiMode="pseudonymize", piiRestore="true")
    # The caller writes a placeholder-like token of its own: it is not reused.
    request = Request(messages=(text(Role.HUMAN, f"<EMAIL_ADDRESS_1> is a template; {EMAIL}"),))
    response = await stage.converse(request)
    assert all_strings(inner.requests[0]) == ["<EMAIL_ADDRESS_1> is a template; <EMAIL_ADDRESS_2>"]
    content = response.outputs[0].choices[0].message.content
    # The model's own e-mail was scrubbed on the way out and is not restored.
    assert content == f"<EMAIL_ADDRESS_1> {EMAIL} <PERSON_7> <EMAIL_ADDRESS_3>"


async def test_pseudonyms_without_restore_reach_the_caller(engine: PiiEngine) -> None:
    inner = RecordingProvider(lambda request: answer(all_strings(request)[0]))
    stage = scrubber(engine, inner, scrubPII="input", piiMode="pseudonymize")
    response = await stage.converse(Request(messages=(text(Role.HUMAN, EMAIL),)))
    assert response.outputs[0].choices[0].message.content == "<EMAIL_ADDRESS_1>"


async def test_findings_are_counted_by_kind_and_direction(engine: PiiEngine) -> None:
    metrics = Metrics()
    inner = RecordingProvider(answer(f"{SSN} {SSN}"))
    await scrubber(engine, inner, metrics, scrubPII="both").converse(full_request())

    def count(kind: str, direction: str) -> float | None:
        return metrics.registry.get_sample_value(
            "pyllm_pii_entities_total", {"kind": kind, "direction": direction}
        )

    assert count("EMAIL_ADDRESS", "input") == 3
    assert count("IP", "input") == 3
    assert count("US_SSN", "input") == 1
    assert count("US_SSN", "output") == 2


async def test_no_value_reaches_a_log_line(
    engine: PiiEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    inner = RecordingProvider(answer(f"{CARD} {EMAIL}"))
    stage = scrubber(engine, inner, scrubPII="both", piiMode="pseudonymize", piiRestore="true")
    await stage.converse(full_request())
    assert "replaced" in caplog.text
    assert leaked([caplog.text]) == []


async def test_identity_names_the_scrubbing(engine: PiiEngine) -> None:
    inner = RecordingProvider()
    stage = scrubber(engine, inner, scrubPII="input", piiMode="pseudonymize", piiRestore="true")
    assert stage.identity(full_request())["pii"] == "INPUT:pseudonymize:restore"
    assert "pii" not in scrubber(engine, inner).identity(full_request())


async def test_scrubbing_runs_off_the_event_loop(engine: PiiEngine) -> None:
    # A long text keeps the analyzer busy for a while; the loop must keep ticking.
    inner = RecordingProvider()
    stage = scrubber(engine, inner, scrubPII="input")
    long_text = (f"Reach {EMAIL} or {PHONE}. " + "Plain words of a long prompt. " * 20) * 60
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await stage.converse(Request(messages=(text(Role.HUMAN, long_text),)))
    done.set()
    await task
    assert ticks > 10
    assert leaked(all_strings(inner.requests[0])) == []
