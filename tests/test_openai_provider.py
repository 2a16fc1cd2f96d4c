"""The openai provider against a real local OpenAI-compatible server: the mapping
of every request field to chat completions and back, overrides, parameters and
settings. Failures, retries and deadlines are in test_openai_resilience.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from component.conversation import (
    CompletionTokensDetails,
    FunctionCall,
    FunctionDefinition,
    Message,
    PromptTokensDetails,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
)
from component.errors import (
    InvalidRequestError,
    InvalidSettingError,
    PermissionDeniedError,
    PyllmError,
)
from component.providers.openai import OpenAIProvider, OpenAISettings
from component.resources import ProcessResources
from component.settings import Properties
from tests.support.chat import KEY, human, make_provider, request
from tests.support.fixtures import openai_server_fixture  # noqa: F401 - a fixture
from tests.support.openai_server import OpenAIServer, Reply, completion


@pytest.fixture
async def provider(openai_server: OpenAIServer) -> AsyncIterator[OpenAIProvider]:
    p = make_provider(openai_server)
    yield p
    await p.aclose()


def sent(server: OpenAIServer) -> dict[str, Any]:
    body = server.requests[-1].body
    assert isinstance(body, dict)
    return body


# --- text and the request shape ------------------------------------------------


async def test_text_round_trip(provider: OpenAIProvider, openai_server: OpenAIServer) -> None:
    response = await provider.converse(request(human("hello there"), context_id="ctx-1"))

    seen = openai_server.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hello there"}],
    }
    assert seen.headers["x-stainless-retry-count"] == "0"  # the SDK's own retries are off
    [output] = response.outputs
    assert output.stop_reason == "stop"
    [choice] = output.choices
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert choice.message.content == "echo: hello there"
    assert choice.message.tool_calls is None
    assert response.model == "gpt-4o-mini"
    assert response.context_id == "ctx-1"
    assert response.usage == Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10)


async def test_trace_context_reaches_the_upstream(
    provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await provider.converse(
        request(trace_headers={"traceparent": parent, "tracestate": "k=v", "x-other": "no"})
    )
    seen = openai_server.requests[-1].headers
    assert (seen["traceparent"], seen["tracestate"]) == (parent, "k=v")
    assert "x-other" not in seen


@dataclass
class MessageCase:
    reason: str
    message: Message
    want: list[dict[str, Any]]


CALL = ToolCall("call_1", "function", FunctionCall("get_weather", '{"city": "Paris"}'))

MESSAGE_CASES = [
    MessageCase(
        "system",
        Message(Role.SYSTEM, (TextPart("be brief"),)),
        [{"role": "system", "content": "be brief"}],
    ),
    MessageCase(
        "developer",
        Message(Role.DEVELOPER, (TextPart("dev"),)),
        [{"role": "developer", "content": "dev"}],
    ),
    MessageCase("human", human("hi"), [{"role": "user", "content": "hi"}]),
    MessageCase(
        "generic is a user",
        Message(Role.GENERIC, (TextPart("g"),)),
        [{"role": "user", "content": "g"}],
    ),
    MessageCase(
        "several text parts are a list of text parts",
        human("a", "b"),
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            }
        ],
    ),
    MessageCase(
        "no parts is empty content", Message(Role.HUMAN, ()), [{"role": "user", "content": ""}]
    ),
    MessageCase(
        "ai text", Message(Role.AI, (TextPart("sure"),)), [{"role": "assistant", "content": "sure"}]
    ),
    MessageCase(
        "ai tool call without text has no content",
        Message(Role.AI, (CALL,)),
        [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            }
        ],
    ),
    MessageCase(
        "ai text and tool call",
        Message(Role.AI, (TextPart("checking"), CALL)),
        [
            {
                "role": "assistant",
                "content": "checking",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            }
        ],
    ),
    MessageCase(
        "each tool result is its own tool message",
        Message(
            Role.TOOL,
            (
                ToolResult("call_1", "get_weather", "sunny"),
                ToolResult("call_2", "get_time", "noon"),
            ),
        ),
        [
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
        ],
    ),
    MessageCase(
        "function message",
        Message(Role.FUNCTION, (ToolResult("", "get_weather", "sunny"),)),
        [{"role": "function", "name": "get_weather", "content": "sunny"}],
    ),
]


@pytest.mark.parametrize("case", MESSAGE_CASES, ids=lambda c: c.reason)
async def test_every_message_type(
    case: MessageCase, provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    await provider.converse(request(case.message))
    assert sent(openai_server)["messages"] == case.want


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (Message(Role.HUMAN, (CALL,)), "tool calls belong in an ai message"),
        (Message(Role.TOOL, (TextPart("x"),)), "a tool message needs a tool_call_response part"),
        (Message(Role.FUNCTION, (TextPart("x"),)), "a function message needs exactly one"),
    ],
)
async def test_unusable_messages_are_refused_before_any_call(
    message: Message, words: str, provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    with pytest.raises(InvalidRequestError, match=words) as caught:
        await provider.converse(request(human("first"), message))
    assert str(caught.value).startswith("messages[1]: ")
    assert openai_server.requests == []


@pytest.mark.parametrize("messages", [None, ()])
async def test_no_messages_is_invalid(
    messages: tuple[Message, ...] | None, provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    from component.conversation import Request

    with pytest.raises(InvalidRequestError, match="no messages"):
        await provider.converse(Request(messages=messages))
    assert openai_server.requests == []


# --- tools -----------------------------------------------------------------------

WEATHER = Tool(
    FunctionDefinition(
        name="get_weather",
        description="Weather of a city",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        strict=True,
    )
)
TIME = Tool(FunctionDefinition(name="get_time"))


async def test_tool_call_round_trip(provider: OpenAIProvider, openai_server: OpenAIServer) -> None:
    call = {
        "id": "call_9",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    openai_server.enqueue(
        Reply(body=completion(content=None, tool_calls=[call], finish_reason="tool_calls")),
        Reply(content="It is sunny in Paris."),
    )
    first = await provider.converse(
        request(human("weather in Paris?"), tools=(WEATHER, TIME), tool_choice="auto")
    )

    body = sent(openai_server)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "get_time"}},
    ]
    assert body["tool_choice"] == "auto"
    [output] = first.outputs
    assert output.stop_reason == "tool_calls"
    [asked] = output.choices[0].message.tool_calls or ()
    assert asked == ToolCall("call_9", "function", FunctionCall("get_weather", '{"city":"Paris"}'))
    assert output.choices[0].message.content == ""

    second = await provider.converse(
        request(
            human("weather in Paris?"),
            Message(Role.AI, (asked,)),
            Message(Role.TOOL, (ToolResult("call_9", "get_weather", "sunny, 24C"),)),
            tools=(WEATHER, TIME),
        )
    )
    assert sent(openai_server)["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "sunny, 24C"},
    ]
    assert second.outputs[0].choices[0].message.content == "It is sunny in Paris."


@dataclass
class ChoiceCase:
    reason: str
    tool_choice: str | None
    tools: tuple[Tool, ...] | None
    want: Any = None  # the body's tool_choice; None: absent
    error: str | None = None


TOOL_CHOICE_CASES = [
    ChoiceCase("auto", "auto", (WEATHER,), "auto"),
    ChoiceCase("none", "none", (WEATHER,), "none"),
    ChoiceCase("required", "required", (WEATHER,), "required"),
    ChoiceCase(
        "a tool name",
        "get_weather",
        (WEATHER, TIME),
        {"type": "function", "function": {"name": "get_weather"}},
    ),
    ChoiceCase("not given", None, (WEATHER,)),
    ChoiceCase("empty is not given", "", (WEATHER,)),
    ChoiceCase("auto without tools is dropped", "auto", None),
    ChoiceCase(
        "unknown name",
        "get_stock",
        (WEATHER,),
        error="is not auto, none, required or a tool of the request",
    ),
    ChoiceCase("required without tools", "required", None, error="needs tools"),
]


@pytest.mark.parametrize("case", TOOL_CHOICE_CASES, ids=lambda c: c.reason)
async def test_tool_choice(
    case: ChoiceCase, provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    asked = request(tool_choice=case.tool_choice, tools=case.tools)
    if case.error:
        with pytest.raises(InvalidRequestError, match=case.error):
            await provider.converse(asked)
        return
    await provider.converse(asked)
    assert sent(openai_server).get("tool_choice") == case.want


async def test_unknown_tool_type_is_refused(provider: OpenAIProvider) -> None:
    tool = Tool(FunctionDefinition(name="x"), type="retrieval")
    with pytest.raises(InvalidRequestError, match=r"tools\[0\].type 'retrieval' is not supported"):
        await provider.converse(request(tools=(tool,)))


# --- structured output, temperature, prompt cache ------------------------------------

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


@pytest.mark.parametrize(
    ("fmt", "want"),
    [
        (SCHEMA, {"type": "json_schema", "json_schema": {"name": "response", "schema": SCHEMA}}),
        (
            {**SCHEMA, "name": "answer", "strict": True, "description": "an answer"},
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "strict": True,
                    "description": "an answer",
                    "schema": {**SCHEMA, "description": "an answer"},
                },
            },
        ),
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA}},
            {"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA}},
        ),
    ],
    ids=["schema", "schema with name, strict, description", "json_object", "API shape"],
)
async def test_structured_output(
    fmt: dict[str, Any], want: dict[str, Any], provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    openai_server.enqueue(Reply(content='{"answer": "42"}'))
    response = await provider.converse(request(response_format=fmt))
    assert sent(openai_server)["response_format"] == want
    assert response.outputs[0].choices[0].message.content == '{"answer": "42"}'


async def test_response_format_without_type_is_refused(provider: OpenAIProvider) -> None:
    with pytest.raises(InvalidRequestError, match="response_format must be a JSON schema"):
        await provider.converse(request(response_format={"properties": {}}))


async def test_temperature_and_prompt_cache_retention(
    provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    await provider.converse(request(temperature=0.0))
    assert "temperature" not in sent(openai_server)  # 0 means unset, as in Dapr
    await provider.converse(request(temperature=0.7, prompt_cache_retention=timedelta(hours=24)))
    body = sent(openai_server)
    assert (body["temperature"], body["prompt_cache_retention"]) == (0.7, "24h")
    await provider.converse(request(prompt_cache_retention=timedelta(minutes=10)))
    assert sent(openai_server)["prompt_cache_retention"] == "in_memory"
    # An explicit parameter can send temperature 0.
    await provider.converse(request(temperature=0.7, metadata={"temperature": "0"}))
    assert sent(openai_server)["temperature"] == 0.0


# --- the answer: choices, finish reasons, refusal, usage ---------------------------------


async def test_several_choices_and_finish_reasons(
    provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    choices = [
        {"index": 1, "message": {"role": "assistant", "content": "two"}, "finish_reason": "length"},
        {"index": 0, "message": {"role": "assistant", "content": "one"}, "finish_reason": "stop"},
        {
            "index": 2,
            "message": {"role": "assistant", "content": None, "refusal": "I can't"},
            "finish_reason": "content_filter",
        },
        {"index": 3, "message": {"role": "assistant", "content": "four"}, "finish_reason": None},
    ]
    openai_server.enqueue(Reply(body=completion(model="gpt-4o-mini-2024-07-18", choices=choices)))
    response = await provider.converse(request(metadata={"n": "4"}))

    assert sent(openai_server)["n"] == 4
    # One output per choice, as Dapr's langchaingo kit answers.
    got = [
        (o.stop_reason, o.choices[0].index, o.choices[0].message.content) for o in response.outputs
    ]
    assert got == [
        ("stop", 0, "one"),
        ("length", 1, "two"),
        ("content_filter", 2, "I can't"),
        ("unknown", 3, "four"),
    ]
    assert response.model == "gpt-4o-mini-2024-07-18"  # the model that answered
    assert response.usage is None


async def test_usage_keeps_every_detail(
    provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 80,
        "total_tokens": 200,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 2},
        "completion_tokens_details": {
            "reasoning_tokens": 40,
            "audio_tokens": 1,
            "accepted_prediction_tokens": 3,
            "rejected_prediction_tokens": 4,
        },
    }
    openai_server.enqueue(Reply(body=completion(usage=usage)))
    response = await provider.converse(request())
    assert response.usage == Usage(
        prompt_tokens=120,
        completion_tokens=80,
        total_tokens=200,
        prompt_details=PromptTokensDetails(cached_tokens=64, audio_tokens=2),
        completion_details=CompletionTokensDetails(
            reasoning_tokens=40,
            audio_tokens=1,
            accepted_prediction_tokens=3,
            rejected_prediction_tokens=4,
        ),
    )


async def test_usage_absent_stays_absent_in_the_provider(
    provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    openai_server.enqueue(Reply(usage=False))
    assert (await provider.converse(request())).usage is None  # counting is UsageAccounting's job


# --- provider parameters ------------------------------------------------------------


@dataclass
class ParamCase:
    reason: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    want: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


PARAM_CASES = [
    ParamCase(
        "every metadata parameter",
        metadata={
            "max_tokens": "256",
            "max_completion_tokens": "300",
            "top_p": "0.9",
            "seed": "-7",
            "stop": '["\\n\\n", "END"]',
            "presence_penalty": "0.5",
            "frequency_penalty": "-1",
            "user": "u-1",
            "reasoning_effort": "LOW",
            "n": "2",
            "logit_bias": '{"50256": -100}',
            "logprobs": "true",
            "top_logprobs": "3",
            "parallel_tool_calls": "false",
            "service_tier": "flex",
            "verbosity": "high",
            "store": "no",
            "prompt_cache_key": "k1",
            "prompt_cache_retention": "24h",
            "safety_identifier": "s-1",
            "unrelated": "ignored",
        },
        want={
            "max_tokens": 256,
            "max_completion_tokens": 300,
            "top_p": 0.9,
            "seed": -7,
            "stop": ["\n\n", "END"],
            "presence_penalty": 0.5,
            "frequency_penalty": -1.0,
            "user": "u-1",
            "reasoning_effort": "low",
            "n": 2,
            "logit_bias": {"50256": -100},
            "logprobs": True,
            "top_logprobs": 3,
            "parallel_tool_calls": False,
            "service_tier": "flex",
            "verbosity": "high",
            "store": False,
            "prompt_cache_key": "k1",
            "prompt_cache_retention": "24h",
            "safety_identifier": "s-1",
        },
    ),
    ParamCase("a single stop string", metadata={"stop": "END"}, want={"stop": "END"}),
    ParamCase(
        "keys match case-insensitively", metadata={"Max_Tokens": "5"}, want={"max_tokens": 5}
    ),
    ParamCase(
        "typed parameters",
        parameters={"max_tokens": 64, "top_p": 1, "stop": ["x"], "seed": 3.0, "logprobs": True},
        want={"max_tokens": 64, "top_p": 1.0, "stop": ["x"], "seed": 3, "logprobs": True},
    ),
    ParamCase(
        "metadata and parameters agree",
        metadata={"seed": "3"},
        parameters={"seed": 3},
        want={"seed": 3},
    ),
    ParamCase(
        "bad integer",
        metadata={"max_tokens": "many"},
        error="request metadata 'max_tokens': 'many' is not a whole number of at least 1",
    ),
    ParamCase(
        "zero max_tokens", metadata={"max_tokens": "0"}, error="is not a whole number of at least 1"
    ),
    ParamCase(
        "top_p out of range",
        metadata={"top_p": "1.5"},
        error="'top_p': '1.5' is not a number from 0 to 1",
    ),
    ParamCase("nan", metadata={"temperature": "nan"}, error="is not a number from 0 to 2"),
    ParamCase(
        "bad effort",
        metadata={"reasoning_effort": "huge"},
        error="is not one of none, minimal, low, medium, high, xhigh",
    ),
    ParamCase(
        "five stops",
        metadata={"stop": '["a","b","c","d","e"]'},
        error="is not a string, or a JSON list of 1 to 4 strings",
    ),
    ParamCase(
        "bad bias", metadata={"logit_bias": '{"x": 1}'}, error="is not a JSON object of token ids"
    ),
    ParamCase(
        "bad boolean", metadata={"store": "maybe"}, error="'store': 'maybe' is not true or false"
    ),
    ParamCase(
        "boolean is no integer",
        parameters={"n": True},
        error=r"parameters\['n'\]: True is not a whole number from 1 to 128",
    ),
    ParamCase(
        "unknown parameter",
        parameters={"model": "x"},
        error=r"parameters\['model'\] is not a parameter the openai provider accepts: use one of",
    ),
    ParamCase(
        "conflict",
        metadata={"seed": "1"},
        parameters={"seed": 2},
        error="'seed' is given twice with different values",
    ),
]


@pytest.mark.parametrize("case", PARAM_CASES, ids=lambda c: c.reason)
async def test_parameters(
    case: ParamCase, provider: OpenAIProvider, openai_server: OpenAIServer
) -> None:
    asked = request(metadata=case.metadata, parameters=case.parameters)
    if case.error:
        with pytest.raises(InvalidRequestError, match=case.error):
            await provider.converse(asked)
        assert openai_server.requests == []
        return
    await provider.converse(asked)
    body = sent(openai_server)
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == case.want


# --- overrides -------------------------------------------------------------------


async def test_metadata_overrides_model_key_and_endpoint(openai_server: OpenAIServer) -> None:
    with OpenAIServer() as other:
        p = make_provider(openai_server)
        try:
            await p.converse(request(metadata={"model": "gpt-4.1"}))
            assert sent(openai_server)["model"] == "gpt-4.1"

            await p.converse(request(metadata={"api_key": "sk-other-key-1"}))
            assert openai_server.requests[-1].headers["authorization"] == "Bearer sk-other-key-1"

            await p.converse(
                request(metadata={"endpoint": other.base_url, "key": "sk-other-key-2"})
            )
            assert other.requests[-1].headers["authorization"] == "Bearer sk-other-key-2"
            assert len(openai_server.requests) == 2

            # The next call without overrides uses the component's settings again.
            await p.converse(request())
            assert openai_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
            assert sent(openai_server)["model"] == "gpt-4o-mini"
        finally:
            await p.aclose()


@dataclass
class RefusedCase:
    reason: str
    settings: Mapping[str, Any]
    metadata: Mapping[str, str]
    error: type[PyllmError]
    words: str


REFUSED_CASES = [
    RefusedCase(
        "model outside allowedModels",
        {"allowed_models": ("gpt-4o*", "o3")},
        {"model": "gpt-5"},
        PermissionDeniedError,
        "request metadata 'model': 'gpt-5' is not allowed; allowedModels are gpt-4o*, o3",
    ),
    RefusedCase(
        "key when overrides are off",
        {"allow_connection_overrides": False},
        {"api_key": "sk-x"},
        PermissionDeniedError,
        "request metadata 'api_key' may not override",
    ),
    RefusedCase(
        "key alias",
        {"allow_connection_overrides": False},
        {"key": "sk-x"},
        PermissionDeniedError,
        "request metadata 'key' may not override",
    ),
    RefusedCase(
        "endpoint when overrides are off",
        {"allow_connection_overrides": False},
        {"endpoint": "http://127.0.0.1:1/v1"},
        PermissionDeniedError,
        "request metadata 'endpoint' may not override",
    ),
    RefusedCase(
        "version when overrides are off",
        {"allow_connection_overrides": False},
        {"apiVersion": "2025-01-01"},
        PermissionDeniedError,
        "request metadata 'apiversion' may not override",
    ),
    RefusedCase(
        "endpoint without a key",
        {},
        {"endpoint": "http://127.0.0.1:1/v1"},
        PermissionDeniedError,
        "the component's key is never sent to another endpoint",
    ),
    RefusedCase(
        "endpoint that is no URL",
        {},
        {"endpoint": "ftp://x", "api_key": "k"},
        InvalidRequestError,
        "request metadata 'endpoint': 'ftp://x' is not an http",
    ),
]


@pytest.mark.parametrize("case", REFUSED_CASES, ids=lambda c: c.reason)
async def test_refused_overrides(case: RefusedCase, openai_server: OpenAIServer) -> None:
    p = make_provider(openai_server, **case.settings)
    try:
        with pytest.raises(case.error, match=re.escape(case.words)) as caught:
            await p.converse(request(metadata=case.metadata))
        assert "sk-x" not in str(caught.value)
        assert openai_server.requests == []
    finally:
        await p.aclose()


async def test_allowed_models_let_matching_and_configured_models_through(
    openai_server: OpenAIServer,
) -> None:
    p = make_provider(openai_server, model="o3", allowed_models=("gpt-4o*",))
    try:
        await p.converse(request(metadata={"model": "gpt-4o-mini"}))
        await p.converse(request(metadata={"model": "o3"}))  # the configured one is always fine
        assert [r.body["model"] for r in openai_server.requests] == ["gpt-4o-mini", "o3"]
    finally:
        await p.aclose()


async def test_identity_names_the_effective_target_never_the_key(
    openai_server: OpenAIServer,
) -> None:
    p = make_provider(openai_server)
    try:
        assert p.identity(request()) == {
            "provider": "openai",
            "apiType": "open_ai",
            "endpoint": openai_server.base_url,
            "model": "gpt-4o-mini",
        }
        moved = p.identity(
            request(
                metadata={
                    "model": "gpt-4.1",
                    "endpoint": "http://127.0.0.1:9/v1",
                    "api_key": "sk-abc",
                }
            )
        )
        assert moved["model"] == "gpt-4.1"
        assert moved["endpoint"] == "http://127.0.0.1:9/v1"
        assert all(KEY not in v and "sk-abc" not in v for v in moved.values())
    finally:
        await p.aclose()


# --- Azure ------------------------------------------------------------------------


async def test_azure_request_shape(openai_server: OpenAIServer) -> None:
    p = make_provider(openai_server, api_type="azure", model="my-gpt4o-deployment")
    try:
        response = await p.converse(request())
        seen = openai_server.requests[-1]
        assert seen.path == "/openai/deployments/my-gpt4o-deployment/chat/completions"
        assert seen.query == {"api-version": "2024-10-21"}
        assert seen.headers["api-key"] == KEY
        assert "authorization" not in seen.headers
        assert response.outputs[0].choices[0].message.content == "echo: hello"

        await p.converse(
            request(metadata={"model": "other-deployment", "version": "2025-04-01-preview"})
        )
        seen = openai_server.requests[-1]
        assert seen.deployment == "other-deployment"
        assert seen.query == {"api-version": "2025-04-01-preview"}
        assert p.identity(request())["apiVersion"] == "2024-10-21"
    finally:
        await p.aclose()


# --- settings ----------------------------------------------------------------------


def settings_of(metadata: Mapping[str, str]) -> OpenAISettings:
    return OpenAISettings.from_properties(Properties(metadata))


@dataclass
class SettingsErrorCase:
    reason: str
    metadata: Mapping[str, str]
    message: str


SETTINGS_ERRORS = [
    SettingsErrorCase(
        "azure without endpoint",
        {"apiType": "azure", "key": "k", "apiVersion": "2024-10-21"},
        "metadata field 'endpoint': is required when apiType is azure (missing: endpoint); "
        "endpoint is the resource URL, e.g. https://example.openai.azure.com, and apiVersion e.g. 2024-10-21",
    ),
    SettingsErrorCase(
        "azure without apiVersion",
        {"apiType": "azure", "key": "k", "endpoint": "https://x.openai.azure.com"},
        "metadata field 'apiVersion': is required when apiType is azure (missing: apiVersion); "
        "endpoint is the resource URL, e.g. https://example.openai.azure.com, and apiVersion e.g. 2024-10-21",
    ),
    SettingsErrorCase(
        "azure without either",
        {"apiType": "azure", "key": "k"},
        "metadata field 'endpoint': is required when apiType is azure (missing: endpoint, apiVersion); "
        "endpoint is the resource URL, e.g. https://example.openai.azure.com, and apiVersion e.g. 2024-10-21",
    ),
    SettingsErrorCase(
        "no key for OpenAI",
        {},
        "metadata field 'key': is required for OpenAI and Azure OpenAI (only a custom endpoint may omit it)",
    ),
    SettingsErrorCase(
        "bad apiType",
        {"key": "k", "apiType": "anthropic"},
        "metadata field 'apiType': 'anthropic' is not one of open_ai, openai, azure",
    ),
    SettingsErrorCase(
        "endpoint not a URL",
        {"key": "k", "endpoint": "localhost:11434"},
        "metadata field 'endpoint': 'localhost:11434' is not an http(s) URL with a host",
    ),
    SettingsErrorCase(
        "bad timeout",
        {"key": "k", "timeout": "soon"},
        "metadata field 'timeout': 'soon' is not a duration",
    ),
    SettingsErrorCase(
        "zero timeout",
        {"key": "k", "timeout": "0s"},
        "metadata field 'timeout': '0s' must be positive",
    ),
    SettingsErrorCase(
        "negative retries",
        {"key": "k", "maxRetries": "-1"},
        "metadata field 'maxRetries': -1 is below the minimum 0",
    ),
    SettingsErrorCase(
        "bad switch",
        {"key": "k", "allowConnectionOverrides": "perhaps"},
        "metadata field 'allowConnectionOverrides': 'perhaps' is not a boolean",
    ),
]


@pytest.mark.parametrize("case", SETTINGS_ERRORS, ids=lambda c: c.reason)
def test_settings_errors(case: SettingsErrorCase) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        settings_of(case.metadata)
    assert str(caught.value).startswith(case.message)


def test_settings_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_MODEL", raising=False)
    plain = settings_of({"key": "k"})
    assert (plain.model, plain.endpoint, plain.api_type) == (
        "gpt-5-nano",
        "https://api.openai.com/v1",
        "open_ai",
    )
    assert (plain.retry.max_retries, plain.retry.attempt_timeout) == (2, 120.0)
    assert plain.allow_connection_overrides is True
    azure = settings_of(
        {
            "key": "k",
            "apiType": "AZURE",
            "endpoint": "https://x.openai.azure.com/",
            "apiVersion": "v",
        }
    )
    assert (azure.model, azure.endpoint) == ("gpt-4.1-nano", "https://x.openai.azure.com")
    local = settings_of({"endpoint": "http://127.0.0.1:11434/v1", "model": "llama3.2"})
    assert (local.key, local.model) == ("", "llama3.2")  # a custom endpoint may need no key
    tuned = settings_of(
        {
            "key": "k",
            "maxRetries": "5",
            "timeout": "1m30s",
            "retryBackoff": "50ms",
            "retryMaxDelay": "2s",
            "allowedModels": "gpt-4o, o3 ,",
            "allowConnectionOverrides": "false",
        }
    )
    assert (
        tuned.retry.max_retries,
        tuned.retry.attempt_timeout,
        tuned.retry.backoff,
        tuned.retry.max_delay,
    ) == (5, 90.0, 0.05, 2.0)
    assert tuned.allowed_models == ("gpt-4o", "o3")
    assert tuned.allow_connection_overrides is False


def test_model_env_variable_is_below_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4.1-mini")
    assert settings_of({"key": "k"}).model == "gpt-4.1-mini"
    assert settings_of({"key": "k", "model": "o3"}).model == "o3"


async def test_from_properties_registers_the_key_and_closes_its_client(
    openai_server: OpenAIServer,
) -> None:
    resources = ProcessResources()
    p = OpenAIProvider.from_properties(
        Properties({"key": KEY, "endpoint": openai_server.base_url}), resources
    )
    await p.converse(request())
    import logging

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key is %s", (KEY,), None)
    resources.redactor.filter(record)
    assert KEY not in record.getMessage()
    await p.aclose()
    assert p._http.is_closed


async def test_no_key_with_custom_endpoint(openai_server: OpenAIServer) -> None:
    p = make_provider(openai_server, key="")
    try:
        await p.converse(request())
        # The SDK insists on some key; a server that needs none ignores this one.
        assert openai_server.requests[-1].headers["authorization"] == "Bearer none"
    finally:
        await p.aclose()
