"""End to end: app → real daprd (our build) → pyllm over its socket, and back.

The conformance cases send the same request to ``conversation.pyllm`` (echo
provider) and to daprd's built-in ``conversation.echo`` in the same daprd and
require the same JSON answer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.grpc import conversation

from tests.e2e.conftest import Stack
from tests.support.component import ROOT, ComponentProcess
from tests.support.daprd import Daprd
from tests.support.openai_server import Reply, error_body
from tests.support.sensitive import API_KEYS

pytestmark = pytest.mark.e2e


def user(text: str) -> dict[str, Any]:
    return {"ofUser": {"content": [{"text": text}]}}


WEATHER_TOOL = {
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["location"],
        },
    }
}

EVERY_MESSAGE = [
    {"ofDeveloper": {"name": "dev", "content": [{"text": "developer says"}]}},
    {"ofSystem": {"content": [{"text": "system says"}]}},
    user("user says"),
    {
        "ofAssistant": {
            "content": [{"text": "assistant says"}],
            "toolCalls": [
                {
                    "id": "call_1",
                    "function": {"name": "get_weather", "arguments": '{"location":"Oslo"}'},
                }
            ],
        }
    },
    {"ofTool": {"toolId": "call_1", "name": "get_weather", "content": [{"text": "rainy, 7C"}]}},
]


@dataclass
class Case:
    reason: str
    body: dict[str, Any]
    version: str = "alpha2"


CONFORMANCE = [
    Case("plain text", {"inputs": [{"messages": [user("hello")]}]}),
    Case("empty text", {"inputs": [{"messages": [user("")]}]}),
    Case(
        "several inputs and messages",
        {"inputs": [{"messages": [user("one"), user("two")]}, {"messages": [user("three")]}]},
    ),
    Case("every message type", {"inputs": [{"messages": EVERY_MESSAGE}]}),
    Case(
        "tools with the default tool choice",
        {"inputs": [{"messages": [user("weather?")]}], "tools": [WEATHER_TOOL]},
    ),
    *[
        Case(
            f"tool choice {choice}",
            {
                "inputs": [{"messages": [user("weather?")]}],
                "tools": [WEATHER_TOOL],
                "toolChoice": choice,
            },
        )
        for choice in ("auto", "none", "required", "get_weather")
    ],
    Case(
        "every request field",
        {
            "inputs": [{"messages": EVERY_MESSAGE, "scrubPii": False}],
            "tools": [WEATHER_TOOL, {"function": {"name": "no_params", "description": "x"}}],
            "toolChoice": "auto",
            "temperature": 0.7,
            "metadata": {"model": "m", "user": "u"},
            "contextId": "ctx-42",
            "responseFormat": {"type": "object", "properties": {"answer": {"type": "string"}}},
            "promptCacheRetention": "3600s",
            "parameters": {
                "seed": {"@type": "type.googleapis.com/google.protobuf.Int64Value", "value": "7"}
            },
        },
    ),
    Case(
        "scrubbing by daprd on input and output",
        {
            "inputs": [{"messages": [user("mail me at jane.doe@example.com")], "scrubPii": True}],
            "scrubPii": True,
        },
    ),
    Case("alpha1 plain", {"inputs": [{"content": "hello", "role": "user"}]}, version="alpha1"),
    Case(
        "alpha1 every field",
        {
            "inputs": [
                {"content": "be terse", "role": "system"},
                {"content": "call 555-123-4567", "role": "user", "scrubPII": True},
                {"content": "ok", "role": "assistant"},
            ],
            "contextID": "ctx-1",
            "temperature": 0.2,
            "scrubPII": True,
            "metadata": {"k": "v"},
        },
        version="alpha1",
    ),
]


@pytest.mark.parametrize("case", CONFORMANCE, ids=[c.reason for c in CONFORMANCE])
def test_pyllm_answers_exactly_like_daprds_echo(stack: Stack, case: Case) -> None:
    ours = stack.daprd.converse("pyllm", case.body, version=case.version)
    theirs = stack.daprd.converse("echo", case.body, version=case.version)
    assert theirs.status_code == 200, theirs.text
    assert ours.status_code == 200, ours.text
    assert json.loads(ours.text) == json.loads(theirs.text)


def test_http_alpha2_answer(stack: Stack) -> None:
    answer = stack.daprd.converse("pyllm", {"inputs": [{"messages": [user("hello")]}]})
    assert answer.status_code == 200
    assert answer.json() == {
        "outputs": [
            {
                "choices": [{"finishReason": "stop", "message": {"content": "hello"}}],
                "usage": {"completionTokens": "1", "promptTokens": "1", "totalTokens": "2"},
            }
        ]
    }


def test_http_alpha1_answer(stack: Stack) -> None:
    answer = stack.daprd.converse(
        "pyllm",
        {"inputs": [{"content": "hi there", "role": "user"}], "contextID": "c1"},
        version="alpha1",
    )
    assert answer.status_code == 200
    assert answer.json() == {"contextID": "c1", "outputs": [{"result": "hi there"}]}


def test_grpc_alpha2_tool_calling_round_trip(stack: Stack) -> None:
    tool = conversation.ConversationTools(
        function=conversation.ConversationToolsFunction(
            name="get_weather",
            description="Current weather",
            parameters={"type": "object", "properties": {"location": {"type": "string"}}},
        )
    )
    with DaprClient(address=stack.daprd.grpc_address) as client:
        first = client.converse_alpha2(
            name="pyllm",
            inputs=[
                conversation.ConversationInputAlpha2(
                    messages=[conversation.create_user_message("weather in Oslo?")]
                )
            ],
            tools=[tool],
            context_id="trip-1",
        )
        choice = first.outputs[0].choices[0]
        assert choice.finish_reason == "tool_calls"
        [call] = choice.message.tool_calls
        assert (call.id, call.function.name, call.function.arguments) == (
            "0",
            "get_weather",
            "location",
        )
        assert first.context_id == "trip-1"

        history = [
            conversation.create_user_message("weather in Oslo?"),
            conversation.ConversationMessage(
                of_assistant=conversation.ConversationMessageOfAssistant(
                    content=[], tool_calls=[call]
                )
            ),
            conversation.create_tool_message(tool_id=call.id, name="get_weather", content="rainy"),
        ]
        second = client.converse_alpha2(
            name="pyllm", inputs=[conversation.ConversationInputAlpha2(messages=history)]
        )
    choice = second.outputs[0].choices[0]
    assert choice.message.content == (
        "weather in Oslo?\nTool Response for tool ID '0' with name 'get_weather': rainy"
    )
    # The assistant's tool call from the history is echoed back, as Dapr's echo does.
    assert [c.function.name for c in choice.message.tool_calls] == ["get_weather"]


def test_grpc_alpha1(stack: Stack) -> None:
    with DaprClient(address=stack.daprd.grpc_address) as client:
        answer = client.converse_alpha1(
            name="pyllm",
            inputs=[conversation.ConversationInput(content="hello alpha1", role="user")],
            context_id="a1",
        )
    assert [o.result for o in answer.outputs] == ["hello alpha1"]
    assert answer.context_id == "a1"


def test_daprd_scrubs_before_pyllm_sees_the_text(stack: Stack) -> None:
    answer = stack.daprd.converse(
        "pyllm",
        {"inputs": [{"messages": [user("write to jane.doe@example.com")], "scrubPii": True}]},
    )
    assert (
        answer.json()["outputs"][0]["choices"][0]["message"]["content"]
        == "write to <EMAIL_ADDRESS>"
    )


def test_two_pyllm_components_keep_their_own_settings(stack: Stack) -> None:
    started = time.perf_counter()
    fast = stack.daprd.converse("pyllm", {"inputs": [{"messages": [user("x")]}]})
    assert fast.status_code == 200
    assert time.perf_counter() - started < 5
    # pyllm-slow answers after 400 ms; its resiliency timeout is 150 ms.
    slow = stack.daprd.converse("pyllm-slow", {"inputs": [{"messages": [user("x")]}]})
    assert slow.status_code == 500
    assert slow.json()["errorCode"] == "ERR_CONVERSATION_INVOKE"


def test_resiliency_timeout_and_retries_act_on_calls_to_the_component(stack: Stack) -> None:
    before = stack.component.logs().count("converse on 'pyllm-slow' started")
    answer = stack.daprd.converse("pyllm-slow", {"inputs": [{"messages": [user("x")]}]})
    assert answer.status_code == 500
    assert (
        "timeout" in answer.json()["message"].lower()
        or "deadline" in answer.json()["message"].lower()
    )
    deadline = time.monotonic() + 5
    attempts = 0
    while time.monotonic() < deadline:
        attempts = stack.component.logs().count("converse on 'pyllm-slow' started") - before
        if attempts >= 3:
            break
        time.sleep(0.1)
    # One call plus the policy's two retries, each cut by the 150 ms timeout.
    assert attempts == 3


def test_an_error_in_the_component_reaches_the_client_with_our_message(stack: Stack) -> None:
    body = {
        "inputs": [{"messages": [user("x")]}],
        "tools": [{"function": {"name": "f", "parameters": {"properties": "not an object"}}}],
    }
    ours = stack.daprd.converse("pyllm", body)
    theirs = stack.daprd.converse("echo", body)
    assert ours.status_code == theirs.status_code == 500
    assert ours.json()["errorCode"] == theirs.json()["errorCode"] == "ERR_CONVERSATION_INVOKE"
    assert "tool function properties must be a map[string]any, got string" in ours.json()["message"]
    assert ours.json()["message"].startswith("failed conversing with component pyllm")


def test_unknown_component_is_daprds_own_error(stack: Stack) -> None:
    answer = stack.daprd.converse("nope", {"inputs": [{"messages": [user("x")]}]})
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "ERR_CONVERSATION_NOT_FOUND"


def test_a_metadata_url_parameter_reaches_the_component(stack: Stack) -> None:
    stack.upstream.reset()
    answer = stack.daprd.converse(
        "pyllm-openai",
        {"inputs": [{"messages": [user("which model?")]}]},
        params={"metadata.model": "gpt-4.1-mini"},
    )
    assert answer.status_code == 200, answer.text
    [request] = stack.upstream.requests
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.body["messages"] == [{"role": "user", "content": "which model?"}]
    assert answer.json()["outputs"][0]["model"] == "gpt-4.1-mini"


def test_daprd_retry_policy_retries_a_failing_upstream_call(stack: Stack) -> None:
    stack.upstream.reset()
    stack.upstream.enqueue(Reply(status=500), Reply(status=503))
    answer = stack.daprd.converse("pyllm-flaky", {"inputs": [{"messages": [user("again")]}]})
    assert answer.status_code == 200, answer.text
    assert len(stack.upstream.requests) == 3  # one call and the policy's two retries


def test_an_upstream_error_reaches_the_client_with_the_providers_words(stack: Stack) -> None:
    stack.upstream.reset()
    stack.upstream.enqueue(
        Reply(status=400, body=error_body(400, "messages[0].content is too long"))
    )
    answer = stack.daprd.converse("pyllm-openai", {"inputs": [{"messages": [user("x")]}]})
    assert answer.status_code == 500
    body = answer.json()
    assert body["errorCode"] == "ERR_CONVERSATION_INVOKE"
    assert "messages[0].content is too long" in body["message"]
    assert API_KEYS[0] not in answer.text


def test_the_example_components_load_in_daprd(tmp_path: Path) -> None:
    """Every example YAML in components/examples is accepted by daprd and pyllm's Init.

    The redis example is left out: its Init would resolve a host that is not here.
    """
    examples = ROOT / "components" / "examples"
    resources = {
        p.name: p.read_text() for p in examples.glob("*.yaml") if p.name != "redis-cache.yaml"
    }
    env = {"OPENAI_API_KEY": API_KEYS[0], "AZURE_OPENAI_API_KEY": API_KEYS[2]}
    with (
        ComponentProcess(tmp_path / "s", args=["--no-pii-preload"]),
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in env.items():
            patch.setenv(name, value)
        with Daprd(tmp_path, sockets_folder=tmp_path / "s", resources=resources) as daprd:
            loaded = httpx.get(f"{daprd.http_url}/v1.0/metadata", timeout=10).json()["components"]
    pyllm = {c["name"] for c in loaded if c["type"] == "conversation.pyllm"}
    assert pyllm == {"openai", "azure-openai", "ollama", "private-chat"}
