"""PII scrubbing in the real component, over its socket, with real upstreams.

Two witnesses that the provider never sees a value: the echo provider, which
answers exactly what it received, and the local OpenAI-compatible server, which
records every body it gets. The component runs with one PII worker process, so
long texts take the worker path and short ones the in-process thread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from component.pb import conversation_pb2 as pb
from tests.support.chat import KEY
from tests.support.component import ComponentClient, ComponentProcess
from tests.support.fixtures import openai_server_fixture  # noqa: F401 - the fixture
from tests.support.openai_server import OpenAIServer
from tests.support.sensitive import register

EMAIL = "jane.roe@example.org"
PHONE = "+2222222222"
CARD = "4111 1111 1111 1111"
SSN = "536-22-1234"
VALUES = (EMAIL, PHONE, CARD, SSN)
register(*VALUES)  # the session's leak check looks for them too
FILLER = "This paragraph is long enough to go to the worker process. " * 12


@pytest.fixture(scope="module")
def scrubbing_component(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComponentProcess]:
    folder = tmp_path_factory.mktemp("pii") / "s"
    args = ["--log-level", "debug", "--metrics-port", "0", "--pii-workers", "1"]
    with ComponentProcess(folder, args=args) as proc:
        yield proc


@pytest.fixture
async def client(scrubbing_component: ComponentProcess) -> AsyncIterator[ComponentClient]:
    c = ComponentClient(scrubbing_component.socket)
    yield c
    await c.close()


def text_part(value: str) -> pb.ConversationContentPart:
    return pb.ConversationContentPart(text=pb.ConversationTextPart(text=value))


def request_with_pii(**metadata: str) -> pb.ConversationConverseRequest:
    req = pb.ConversationConverseRequest(metadata=metadata)
    req.messages.SetInParent()
    req.messages.items.extend(
        [
            pb.ConversationMessage(
                role=pb.CONVERSATION_ROLE_SYSTEM, parts=[text_part(f"Escalate to {PHONE}.")]
            ),
            pb.ConversationMessage(
                role=pb.CONVERSATION_ROLE_HUMAN,
                parts=[text_part(f"I am {EMAIL}, card {CARD}. {FILLER}")],
            ),
            pb.ConversationMessage(
                role=pb.CONVERSATION_ROLE_AI,
                parts=[
                    pb.ConversationContentPart(
                        tool_call=pb.ConversationToolCall(
                            id="c1",
                            type="function",
                            function=pb.ConversationFunctionCall(
                                name="lookup", arguments=json.dumps({"ssn": SSN})
                            ),
                        )
                    )
                ],
            ),
            pb.ConversationMessage(
                role=pb.CONVERSATION_ROLE_TOOL,
                parts=[
                    pb.ConversationContentPart(
                        tool_call_response=pb.ConversationToolCallResponse(
                            tool_call_id="c1", name="lookup", content=f"{SSN} belongs to {EMAIL}"
                        )
                    )
                ],
            ),
        ]
    )
    return req


def leaked(data: str | bytes) -> list[str]:
    raw = data if isinstance(data, bytes) else data.encode()
    return [value for value in VALUES if value.encode() in raw]


async def test_the_echo_provider_receives_no_value(client: ComponentClient) -> None:
    await client.init("echo-scrub", {"provider": "echo", "scrubPII": "input"})
    answer = await client.converse("echo-scrub", request_with_pii())
    message = answer.outputs[0].choices[0].message
    assert leaked(message.content) == []
    assert leaked(message.tool_calls.items[0].function.arguments) == []
    assert message.content.startswith("Escalate to <PHONE_NUMBER>.\nI am <EMAIL_ADDRESS>, card")
    assert "Tool Response for tool ID 'c1' with name 'lookup': <US_SSN> belongs to" in (
        message.content
    )


async def test_a_request_asks_for_scrubbing_the_component_does_not_impose(
    client: ComponentClient,
) -> None:
    await client.init("echo-plain", {"provider": "echo"})
    answer = await client.converse("echo-plain", request_with_pii())
    assert leaked(answer.outputs[0].choices[0].message.content) == list(VALUES)
    answer = await client.converse("echo-plain", request_with_pii(scrubPII="input"))
    assert leaked(answer.outputs[0].choices[0].message.content) == []


async def test_the_upstream_never_receives_a_value_and_the_caller_gets_them_back(
    client: ComponentClient,
    openai_server: OpenAIServer,
    scrubbing_component: ComponentProcess,
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    await client.init(
        "openai-scrub",
        {
            "provider": "openai",
            "endpoint": openai_server.base_url,
            "key": KEY,
            "model": "gpt-4o-mini",
            "scrubPII": "both",
            "piiMode": "pseudonymize",
            "piiRestore": "true",
            "cacheTTL": "1h",
            "cacheDir": str(cache),
        },
    )
    first = await client.converse("openai-scrub", request_with_pii())
    second = await client.converse("openai-scrub", request_with_pii())  # a cache hit

    [received] = openai_server.requests
    assert leaked(received.raw) == []
    assert "<EMAIL_ADDRESS_1>" in received.raw.decode()
    # The test server answers "echo: <last text>": the tool result, with placeholders
    # that the component put back.
    for answer in (first, second):
        assert answer.outputs[0].choices[0].message.content == (f"echo: {SSN} belongs to {EMAIL}")
    on_disk = [p for p in cache.rglob("*") if p.is_file()]
    assert on_disk
    for path in on_disk:
        assert leaked(path.read_bytes()) == [], path
    assert leaked(scrubbing_component.logs()) == []


async def test_a_missing_model_fails_init_with_a_clear_message(client: ComponentClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.init("ner", {"scrubPII": "input", "piiModel": "en_core_web_doesnotexist"})
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == (
        "metadata field 'piiModel': 'en_core_web_doesnotexist' is neither an installed spaCy "
        "package nor a folder: install the model package in the component's image or give the "
        "folder of a saved pipeline (pyllm never downloads models)"
    )
