"""Hostile input: whatever arrives, an answer or a clear error, never a crash or a hang.

Property-based (hypothesis) over contract messages, checked in-process through the
servicer's conversion and the echo pipeline, and over the real socket for a
sample of the same shapes.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2, wrappers_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from component.errors import PyllmError
from component.pb import conversation_pb2 as pb
from component.providers.echo import EchoProvider
from component.servicer import status_for
from component.wire import from_response, to_request
from tests.support.component import ComponentClient, ComponentProcess

ODD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200
) | st.sampled_from(["", "\x00", "\u202e", "💥" * 50, "a" * 10_000, "\ud7ff"])

JSON_LEAF = st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | ODD_TEXT
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=30,
)


def deep_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


@st.composite
def parts(draw: st.DrawFn) -> pb.ConversationContentPart:
    kind = draw(st.sampled_from(["text", "tool_call", "bare_tool_call", "response", "empty"]))
    if kind == "text":
        return pb.ConversationContentPart(text=pb.ConversationTextPart(text=draw(ODD_TEXT)))
    if kind == "tool_call":
        return pb.ConversationContentPart(
            tool_call=pb.ConversationToolCall(
                id=draw(ODD_TEXT),
                type=draw(ODD_TEXT),
                function=pb.ConversationFunctionCall(name=draw(ODD_TEXT), arguments=draw(ODD_TEXT)),
            )
        )
    if kind == "bare_tool_call":
        return pb.ConversationContentPart(tool_call=pb.ConversationToolCall(id=draw(ODD_TEXT)))
    if kind == "response":
        return pb.ConversationContentPart(
            tool_call_response=pb.ConversationToolCallResponse(
                tool_call_id=draw(ODD_TEXT), name=draw(ODD_TEXT), content=draw(ODD_TEXT)
            )
        )
    return pb.ConversationContentPart()


@st.composite
def requests(draw: st.DrawFn) -> pb.ConversationConverseRequest:
    req = pb.ConversationConverseRequest(
        temperature=draw(st.floats(allow_nan=True, allow_infinity=True)),
        context_id=draw(ODD_TEXT),
    )
    if draw(st.booleans()):
        req.messages.SetInParent()
        for _ in range(draw(st.integers(0, 6))):
            req.messages.items.append(
                pb.ConversationMessage(
                    role=draw(st.integers(-3, 12)),
                    parts=draw(st.lists(parts(), max_size=4)),
                )
            )
    if draw(st.booleans()):
        req.tools.SetInParent()
        for _ in range(draw(st.integers(0, 3))):
            tool = req.tools.items.add(type=draw(ODD_TEXT))
            if draw(st.booleans()):
                tool.function.name = draw(ODD_TEXT)
                if draw(st.booleans()):
                    value = draw(st.dictionaries(ODD_TEXT, JSON, max_size=3))
                    if draw(st.booleans()):
                        value = deep_schema(draw(st.integers(1, 25)))
                    tool.function.parameters.update(value)
    if draw(st.booleans()):
        req.tool_choice = draw(ODD_TEXT)
    for key, value in draw(st.dictionaries(ODD_TEXT, ODD_TEXT, max_size=3)).items():
        req.metadata[key] = value
    if draw(st.booleans()):
        req.response_format.update(draw(st.dictionaries(ODD_TEXT, JSON, max_size=3)))
    if draw(st.booleans()):
        req.prompt_cache_retention.CopyFrom(
            duration_pb2.Duration(seconds=draw(st.integers(-(10**9), 10**9)))
        )
    for key in draw(st.lists(ODD_TEXT, max_size=2)):
        kind = draw(st.sampled_from(["int", "str", "struct", "ping"]))
        if kind == "int":
            req.parameters[key].Pack(
                wrappers_pb2.Int64Value(value=draw(st.integers(-(2**63), 2**63 - 1)))
            )
        elif kind == "str":
            req.parameters[key].Pack(wrappers_pb2.StringValue(value=draw(ODD_TEXT)))
        elif kind == "struct":
            s = struct_pb2.Struct()
            s.update(draw(st.dictionaries(ODD_TEXT, JSON, max_size=3)))
            req.parameters[key].Pack(s)
        else:
            req.parameters[key].Pack(pb.ConversationPingRequest())
    return req


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_conversion_and_echo_never_crash(request: pb.ConversationConverseRequest) -> None:
    try:
        domain = to_request(request)
        response = asyncio.run(EchoProvider().converse(domain))
        answer = from_response(response)
    except PyllmError as exc:
        assert status_for(exc) in {
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        }
        assert str(exc)
        return
    assert math.isfinite(domain.temperature)
    for output in answer.outputs:
        assert output.choices
        for choice in output.choices:
            assert all(call.HasField("function") for call in choice.message.tool_calls.items)


def test_thousands_of_messages_and_tools() -> None:
    req = pb.ConversationConverseRequest()
    req.messages.SetInParent()
    for i in range(5_000):
        req.messages.items.append(
            pb.ConversationMessage(
                role=pb.CONVERSATION_ROLE_HUMAN,
                parts=[pb.ConversationContentPart(text=pb.ConversationTextPart(text=f"m{i}"))],
            )
        )
    for i in range(2_000):
        req.tools.items.append(
            pb.ConversationTool(
                type="function", function=pb.ConversationFunctionDefinition(name=f"t{i}")
            )
        )
    answer = from_response(asyncio.run(EchoProvider().converse(to_request(req))))
    assert len(answer.outputs[0].choices[0].message.tool_calls.items) == 2_000


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def too_deep_request(levels: int) -> bytes:
    """A Converse request whose tool schema nests ``levels`` Structs, encoded by hand
    (the Python protobuf runtime refuses to build one deeper than it can decode)."""
    struct = _field(1, _field(1, b"x") + _field(2, _field(3, b"leaf")))  # {"x": "leaf"}
    for _ in range(levels):
        struct = _field(1, _field(1, b"x") + _field(2, _field(5, struct)))  # {"x": {...}}
    function = _field(1, b"deep") + _field(3, struct)
    tools = _field(1, _field(1, b"function") + _field(2, function))
    message = b"\x08\x01" + _field(2, _field(1, _field(1, b"hi")))  # human: "hi"
    return _field(1, _field(1, message)) + _field(2, tools)


def test_hand_encoding_matches_the_contract() -> None:
    req = pb.ConversationConverseRequest.FromString(too_deep_request(3))
    assert req.messages.items[0].parts[0].text.text == "hi"
    assert req.tools.items[0].function.name == "deep"


async def test_a_schema_nested_past_protobufs_limit_is_invalid_argument(sockets_folder) -> None:
    with ComponentProcess(sockets_folder) as proc:
        async with grpc.aio.insecure_channel(f"unix:{proc.socket}") as channel:
            await ComponentClient(proc.socket).init("pyllm", {})
            converse = channel.unary_unary(
                "/dapr.proto.components.v1.Conversation/Converse",
                response_deserializer=pb.ConversationConverseResponse.FromString,
            )
            md = [("x-component-instance", "pyllm")]
            answer = await converse(too_deep_request(10), metadata=md, timeout=10)
            assert answer.outputs[0].choices[0].message.content == "hi"
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await converse(too_deep_request(200), metadata=md, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the request could not be decoded" in info.value.details()
    assert "100 levels of nesting" in info.value.details()


@pytest.fixture
def hostile_samples() -> list[pb.ConversationConverseRequest]:
    samples: list[pb.ConversationConverseRequest] = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(requests())
    def collect(request: pb.ConversationConverseRequest) -> None:
        samples.append(request)

    collect()
    return samples


async def test_the_real_socket_answers_or_refuses_clearly(
    sockets_folder, hostile_samples: list[pb.ConversationConverseRequest]
) -> None:
    with ComponentProcess(sockets_folder) as proc:
        client = ComponentClient(proc.socket)
        await client.init("pyllm", {})
        for request in hostile_samples:
            try:
                await client.converse("pyllm", request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() in {
                    grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                }, exc
                assert exc.details()
        # Invalid UTF-8 in metadata cannot even be encoded by a conforming client;
        # the process is still alive and answering after everything above.
        await client.stub.Ping(pb.ConversationPingRequest(), timeout=5)
        await client.close()
        assert proc.proc is not None and proc.proc.poll() is None


async def test_invalid_utf8_in_metadata_is_invalid_argument(sockets_folder) -> None:
    # proto3 strings must be UTF-8; a hand-encoded request carries bytes that are not.
    message = b"\x08\x01" + _field(2, _field(1, _field(1, b"hi")))
    metadata = _field(5, _field(1, b"model") + _field(2, b"gpt-\xff\xfe"))
    with ComponentProcess(sockets_folder) as proc:
        async with grpc.aio.insecure_channel(f"unix:{proc.socket}") as channel:
            await ComponentClient(proc.socket).init("pyllm", {})
            converse = channel.unary_unary(
                "/dapr.proto.components.v1.Conversation/Converse",
                response_deserializer=pb.ConversationConverseResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await converse(
                    _field(1, _field(1, message)) + metadata,
                    metadata=[("x-component-instance", "pyllm")],
                    timeout=10,
                )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the request could not be decoded" in info.value.details()
    assert "valid UTF-8" in info.value.details()
