"""The openai provider when the upstream fails: error mapping, bounded retries,
Retry-After, deadlines, cancellation, garbage and refused connections, all
against a real local server through the real SDK, and never a key in sight."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from component import errors
from component.metrics import Metrics
from component.providers.retrying import RetryPolicy, retry_after_seconds
from tests.support.chat import KEY, make_provider, request
from tests.support.fixtures import openai_server_fixture  # noqa: F401 - a fixture
from tests.support.openai_server import OpenAIServer, Reply, error_body, free_port


def retries(metrics: Metrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "pyllm_upstream_retries_total", {"provider": "openai", "reason": reason}
    )
    return value or 0.0


def attempts(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "pyllm_upstream_seconds_count", {"provider": "openai", "outcome": outcome}
    )
    return value or 0.0


@dataclass
class StatusCase:
    status: int
    error: type[errors.ProviderError]
    requests: int  # attempts made with maxRetries 2
    body: dict[str, Any] = field(default_factory=dict)


STATUS_CASES = [
    StatusCase(400, errors.UpstreamBadRequestError, 1),
    StatusCase(401, errors.UpstreamAuthenticationError, 1),
    StatusCase(403, errors.UpstreamPermissionError, 1),
    StatusCase(404, errors.UpstreamNotFoundError, 1),
    StatusCase(408, errors.UpstreamTimeoutError, 3),
    StatusCase(409, errors.UpstreamUnavailableError, 1),
    StatusCase(413, errors.UpstreamBadRequestError, 1),
    StatusCase(422, errors.UpstreamBadRequestError, 1),
    StatusCase(429, errors.UpstreamRateLimitError, 3),
    StatusCase(
        429,
        errors.UpstreamRateLimitError,
        1,  # a spent quota does not come back in a second
        error_body(429, "You exceeded your current quota", code="insufficient_quota"),
    ),
    StatusCase(500, errors.UpstreamUnavailableError, 3),
    StatusCase(502, errors.UpstreamUnavailableError, 3),
    StatusCase(503, errors.UpstreamUnavailableError, 3),
]


@pytest.mark.parametrize("case", STATUS_CASES, ids=lambda c: f"{c.status}-{c.requests}")
async def test_status_codes_map_by_meaning(case: StatusCase, openai_server: OpenAIServer) -> None:
    message = f"the provider's own words for {case.status}"
    body = case.body or error_body(case.status, message)
    openai_server.default = Reply(status=case.status, body=body)
    p = make_provider(openai_server)
    try:
        with pytest.raises(case.error) as caught:
            await p.converse(request())
    finally:
        await p.aclose()
    text = str(caught.value)
    assert text.startswith(f"upstream answered {case.status} ")
    assert body["error"]["message"] in text
    assert len(openai_server.requests) == case.requests
    if case.requests > 1:
        assert text.endswith(f"(after {case.requests} attempts)")


async def test_429_with_retry_after_then_success(openai_server: OpenAIServer) -> None:
    metrics = Metrics()
    openai_server.enqueue(Reply(status=429, headers={"Retry-After": "0.3"}))
    p = make_provider(
        openai_server, metrics=metrics, retry=RetryPolicy(max_retries=2, backoff=0.001)
    )
    try:
        started = time.monotonic()
        response = await p.converse(request())
        waited = time.monotonic() - started
    finally:
        await p.aclose()
    assert response.outputs[0].choices[0].message.content == "echo: hello"
    assert len(openai_server.requests) == 2
    assert waited >= 0.3  # the server's wait, not the 1 ms backoff
    assert retries(metrics, "rate_limited") == 1
    assert (attempts(metrics, "rate_limited"), attempts(metrics, "ok")) == (1, 1)


async def test_retry_after_longer_than_allowed_is_not_waited_for(
    openai_server: OpenAIServer,
) -> None:
    openai_server.enqueue(Reply(status=429, headers={"retry-after": "120"}))
    p = make_provider(openai_server)  # retryMaxDelay 2s
    try:
        with pytest.raises(errors.UpstreamRateLimitError):
            await p.converse(request())
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 1


async def test_500_then_success(openai_server: OpenAIServer) -> None:
    metrics = Metrics()
    openai_server.enqueue(Reply(status=500))
    p = make_provider(openai_server, metrics=metrics)
    try:
        response = await p.converse(request())
    finally:
        await p.aclose()
    assert response.outputs
    assert len(openai_server.requests) == 2
    assert retries(metrics, "server_error") == 1
    # The same body is sent again.
    assert openai_server.requests[0].body == openai_server.requests[1].body


async def test_persistent_503_is_unavailable_after_bounded_retries(
    openai_server: OpenAIServer,
) -> None:
    metrics = Metrics()
    openai_server.default = Reply(status=503)
    p = make_provider(
        openai_server, metrics=metrics, retry=RetryPolicy(max_retries=3, backoff=0.01)
    )
    try:
        with pytest.raises(
            errors.UpstreamUnavailableError,
            match=r"upstream answered 503 Service Unavailable: scripted 503 \(after 4 attempts\)",
        ):
            await p.converse(request())
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 4
    assert retries(metrics, "server_error") == 3


async def test_no_retries_when_max_retries_is_zero(openai_server: OpenAIServer) -> None:
    openai_server.default = Reply(status=503)
    p = make_provider(openai_server, retry=RetryPolicy(max_retries=0))
    try:
        with pytest.raises(errors.UpstreamUnavailableError):
            await p.converse(request())
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 1


# --- time ------------------------------------------------------------------------


async def test_slow_upstream_against_the_deadline(openai_server: OpenAIServer) -> None:
    openai_server.default = Reply(delay=10)
    p = make_provider(openai_server)
    try:
        with pytest.raises(errors.UpstreamTimeoutError, match="deadline passed"):
            await p.converse(request(deadline=time.monotonic() + 0.4))
    finally:
        await p.aclose()
    [seen] = openai_server.requests  # no retry past the deadline
    assert seen.disconnected.wait(5)  # the upstream request was abandoned, not left running


async def test_deadline_already_passed_calls_nothing(openai_server: OpenAIServer) -> None:
    p = make_provider(openai_server)
    try:
        with pytest.raises(errors.UpstreamTimeoutError):
            await p.converse(request(deadline=time.monotonic() - 1))
    finally:
        await p.aclose()
    assert openai_server.requests == []


async def test_retries_never_wait_past_the_deadline(openai_server: OpenAIServer) -> None:
    openai_server.default = Reply(status=503)
    # The backoff (about 5 s) is longer than what is left of the deadline.
    p = make_provider(openai_server, retry=RetryPolicy(max_retries=5, backoff=10, max_delay=10))
    try:
        started = time.monotonic()
        with pytest.raises(errors.UpstreamUnavailableError):
            await p.converse(request(deadline=time.monotonic() + 3))
        assert time.monotonic() - started < 3
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 1


async def test_attempt_timeout_is_retried_then_reported(openai_server: OpenAIServer) -> None:
    metrics = Metrics()
    openai_server.default = Reply(delay=5)
    p = make_provider(
        openai_server,
        metrics=metrics,
        retry=RetryPolicy(max_retries=1, attempt_timeout=0.2, backoff=0.01),
    )
    try:
        with pytest.raises(
            errors.UpstreamTimeoutError,
            match=r"within the attempt timeout of 0.2s \(after 2 attempts\)",
        ):
            await p.converse(request())
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 2
    assert all(r.disconnected.wait(5) for r in openai_server.requests)
    assert retries(metrics, "timeout") == 1


async def test_cancelling_the_call_cancels_the_upstream_request(
    openai_server: OpenAIServer,
) -> None:
    openai_server.default = Reply(delay=10)
    p = make_provider(openai_server)
    try:
        task = asyncio.create_task(p.converse(request()))
        await asyncio.to_thread(openai_server.wait_for_requests, 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert openai_server.requests[0].disconnected.wait(5)
        assert len(openai_server.requests) == 1  # cancellation is not retried
    finally:
        await p.aclose()


# --- garbage and broken connections ----------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [Reply(raw=b"[1, 2, 3]"), Reply(raw=b'{"unexpected": true}')],
    ids=["a list", "no choices"],
)
async def test_json_that_is_no_completion_is_unavailable_at_once(
    reply: Reply, openai_server: OpenAIServer
) -> None:
    openai_server.default = reply
    p = make_provider(openai_server)
    try:
        with pytest.raises(errors.UpstreamUnavailableError, match="not a chat completion"):
            await p.converse(request())
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 1  # an incompatible server: no retry


@pytest.mark.parametrize(
    "reply", [Reply(raw=b"{this is not json"), Reply(raw=b"")], ids=["malformed", "empty"]
)
async def test_a_body_that_is_not_json_is_retried(
    reply: Reply, openai_server: OpenAIServer
) -> None:
    openai_server.enqueue(reply)
    p = make_provider(openai_server)
    try:
        answer = await p.converse(request())
    finally:
        await p.aclose()
    assert answer.outputs[0].choices[0].message.content.startswith("echo: ")
    assert len(openai_server.requests) == 2  # a cut-short body is a glitch: retried


async def test_a_body_that_is_never_json_is_unavailable_after_retries(
    openai_server: OpenAIServer,
) -> None:
    openai_server.default = Reply(raw=b"<html>oops</html>")
    p = make_provider(openai_server)
    try:
        with pytest.raises(errors.UpstreamUnavailableError, match="malformed JSON"):
            await p.converse(request())
    finally:
        await p.aclose()
    assert len(openai_server.requests) == 3  # maxRetries 2


async def test_connection_refused_is_unavailable_after_retries() -> None:
    metrics = Metrics()
    port = free_port()
    with OpenAIServer() as unused:  # a provider needs a server for its defaults only
        p = make_provider(unused, metrics=metrics, endpoint=f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(
            errors.UpstreamUnavailableError,
            match=rf"cannot reach the upstream at http://127.0.0.1:{port}/v1: .*\(after 3 attempts\)",
        ):
            await p.converse(request())
    finally:
        await p.aclose()
    assert retries(metrics, "connection") == 2


async def test_dropped_connection_is_retried(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(Reply(drop=True))
    p = make_provider(openai_server)
    try:
        response = await p.converse(request())
    finally:
        await p.aclose()
    assert response.outputs
    assert len(openai_server.requests) == 2


# --- the key stays secret ----------------------------------------------------------------


async def test_the_key_never_appears_in_logs_or_errors(
    openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    override = "sk-override-Y7u2NEVERLOGGED"
    openai_server.enqueue(
        Reply(status=401, body=error_body(401, f"Incorrect API key provided: {KEY}.")),
        Reply(
            status=429, headers={"Retry-After": "0"}, body=error_body(429, f"slow down {override}")
        ),
        Reply(
            status=429, headers={"Retry-After": "0"}, body=error_body(429, f"slow down {override}")
        ),
        Reply(
            status=429, headers={"Retry-After": "0"}, body=error_body(429, f"slow down {override}")
        ),
        Reply(raw=b"{garbage"),  # not JSON: retried, so three of them
        Reply(raw=b"{garbage"),
        Reply(raw=b"{garbage"),
        Reply(status=500, body={"error": KEY}),
        Reply(status=500, body={"error": KEY}),
        Reply(status=500, body={"error": KEY}),
    )
    p = make_provider(openai_server)
    messages: list[str] = []
    try:
        for metadata in ({}, {"api_key": override}, {}, {}):
            try:
                await p.converse(request(metadata=metadata))
            except errors.PyllmError as exc:
                messages.append(str(exc))
        await p.converse(request(metadata={"api_key": override, "max_tokens": "5"}))
    finally:
        await p.aclose()
    assert len(messages) == 4
    assert "Incorrect API key provided: [REDACTED]." in messages[0]
    assert "slow down [REDACTED]" in messages[1]
    for text in [*messages, caplog.text, *(r.getMessage() for r in caplog.records)]:
        assert KEY not in text
        assert override not in text
    assert any(
        r.name.startswith("openai") for r in caplog.records
    )  # the SDK's debug lines were seen


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    import random

    policy = RetryPolicy(backoff=1.0, max_delay=5.0)
    rng = random.Random(7)
    for retry, (low, high) in enumerate([(0.5, 1), (1, 2), (2, 4), (2.5, 5), (2.5, 5)]):
        delays = [policy.backoff_delay(retry, rng) for _ in range(50)]
        assert all(low <= d <= high for d in delays)
        assert len(set(delays)) > 1
