"""The openai provider through the real component over its Unix socket, as
daprd drives it: gRPC status codes, deadlines and cancellation reaching the
upstream, and a component log without the key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from component.pb import conversation_pb2 as pb
from tests.support.chat import KEY
from tests.support.component import ComponentClient, ComponentProcess
from tests.support.openai_server import OpenAIServer, Reply, error_body

INSTANCE = "chat"


@pytest.fixture(scope="module")
def upstream() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComponentProcess]:
    root = tmp_path_factory.mktemp("oai")
    empty_cache = root / "tiktoken"
    empty_cache.mkdir()
    with ComponentProcess(
        root / "s",
        args=["--log-level", "debug"],
        env={"TIKTOKEN_CACHE_DIR": str(empty_cache)},
    ) as proc:
        yield proc


@pytest.fixture
async def chat(running: ComponentProcess, upstream: OpenAIServer) -> AsyncIterator[ComponentClient]:
    upstream.reset()
    client = ComponentClient(running.socket)
    await client.init(
        INSTANCE,
        {
            "provider": "openai",
            "endpoint": upstream.base_url,
            "key": KEY,
            "model": "gpt-4o-mini",
            "maxRetries": "1",
            "retryBackoff": "10ms",
            "retryMaxDelay": "1s",
            "allowedModels": "gpt-4o*",
        },
    )
    yield client
    await client.close()


def converse_request(text: str = "hello", **metadata: str) -> pb.ConversationConverseRequest:
    req = pb.ConversationConverseRequest(metadata=metadata)
    req.messages.SetInParent()
    req.messages.items.append(
        pb.ConversationMessage(
            role=pb.CONVERSATION_ROLE_HUMAN,
            parts=[pb.ConversationContentPart(text=pb.ConversationTextPart(text=text))],
        )
    )
    return req


async def test_converse_through_the_socket(chat: ComponentClient, upstream: OpenAIServer) -> None:
    answer = await chat.converse(INSTANCE, converse_request("hi there", max_tokens="16"))
    assert answer.outputs[0].choices[0].message.content == "echo: hi there"
    assert answer.model == "gpt-4o-mini"
    assert answer.usage.total_tokens == 10
    assert upstream.requests[-1].body["max_tokens"] == 16


async def test_usage_absent_and_no_encoding_means_no_usage(
    chat: ComponentClient, upstream: OpenAIServer
) -> None:
    upstream.default = Reply(usage=False)
    answer = await chat.converse(INSTANCE, converse_request())
    assert not answer.HasField("usage")


@pytest.mark.parametrize(
    ("reply", "code", "words"),
    [
        (
            Reply(status=503),
            grpc.StatusCode.UNAVAILABLE,
            "upstream answered 503 Service Unavailable: scripted 503 (after 2 attempts)",
        ),
        (
            Reply(status=401, body=error_body(401, f"Incorrect API key provided: {KEY}")),
            grpc.StatusCode.UNAUTHENTICATED,
            "Incorrect API key provided: [REDACTED]",
        ),
        (
            Reply(status=400, body=error_body(400, "max_tokens is too large")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "upstream answered 400 Bad Request: max_tokens is too large",
        ),
        (
            Reply(status=404, body=error_body(404, "The model does not exist")),
            grpc.StatusCode.NOT_FOUND,
            "The model does not exist",
        ),
        (
            Reply(status=429, headers={"Retry-After": "30"}),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "upstream answered 429 Too Many Requests",
        ),
        (Reply(raw=b"<html>oops</html>"), grpc.StatusCode.UNAVAILABLE, "malformed JSON"),
    ],
    ids=["503", "401", "400", "404", "429", "garbage"],
)
async def test_upstream_failures_as_status_codes(
    reply: Reply, code: grpc.StatusCode, words: str, chat: ComponentClient, upstream: OpenAIServer
) -> None:
    upstream.default = reply
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await chat.converse(INSTANCE, converse_request())
    assert caught.value.code() == code
    assert words in (caught.value.details() or "")
    assert KEY not in (caught.value.details() or "")


@pytest.mark.parametrize(
    ("metadata", "code", "words"),
    [
        (
            {"model": "o3"},
            grpc.StatusCode.PERMISSION_DENIED,
            "request metadata 'model': 'o3' is not allowed",
        ),
        (
            {"endpoint": "http://127.0.0.1:9/v1"},
            grpc.StatusCode.PERMISSION_DENIED,
            "request metadata 'endpoint' needs 'api_key' too",
        ),
        (
            {"top_p": "2"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "request metadata 'top_p': '2' is not a number from 0 to 1",
        ),
    ],
    ids=["model", "endpoint", "parameter"],
)
async def test_refused_requests_as_status_codes(
    metadata: dict[str, str],
    code: grpc.StatusCode,
    words: str,
    chat: ComponentClient,
    upstream: OpenAIServer,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await chat.converse(INSTANCE, converse_request(**metadata))
    assert caught.value.code() == code
    assert words in (caught.value.details() or "")
    assert upstream.requests == []


async def test_the_grpc_deadline_bounds_the_upstream_call(
    chat: ComponentClient, upstream: OpenAIServer
) -> None:
    upstream.default = Reply(delay=20)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await chat.converse(INSTANCE, converse_request(), timeout=0.6)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    [seen] = await asyncio.to_thread(upstream.wait_for_requests, 1)
    assert await asyncio.to_thread(seen.disconnected.wait, 5)


async def test_a_cancelled_call_cancels_the_upstream_request(
    chat: ComponentClient, upstream: OpenAIServer
) -> None:
    upstream.default = Reply(delay=20)
    call = chat.stub.Converse(
        converse_request(), metadata=[("x-component-instance", INSTANCE)], timeout=30
    )
    [seen] = await asyncio.to_thread(upstream.wait_for_requests, 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await asyncio.to_thread(seen.disconnected.wait, 5)
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        (
            {
                "provider": "openai",
                "apiType": "azure",
                "key": KEY,
                "endpoint": "https://x.openai.azure.com",
            },
            "metadata field 'apiVersion': is required when apiType is azure (missing: apiVersion)",
        ),
        (
            {"provider": "openai", "key": KEY, "model": "gpt-4o", "maxInputTokens": "100"},
            "metadata field 'maxInputTokens': cannot be enforced: tiktoken encoding o200k_base",
        ),
    ],
    ids=["azure", "maxInputTokens"],
)
async def test_init_errors(
    properties: dict[str, str], words: str, running: ComponentProcess
) -> None:
    client = ComponentClient(running.socket)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.init("broken", properties)
    finally:
        await client.close()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in (caught.value.details() or "")
    assert KEY not in (caught.value.details() or "")


def test_zz_the_component_log_never_holds_the_key(running: ComponentProcess) -> None:
    # Runs last in this module (by name): every call above logged at debug.
    log = running.logs()
    assert "converse on 'chat'" in log
    assert KEY not in log
    assert Path(running.log_path).exists()
