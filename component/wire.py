"""Conversion between the contract's protobuf and the domain: pure functions.

``to_request`` converts and validates what daprd sends (raising
:class:`InvalidRequestError` naming the field for what no provider can use);
``from_response`` refuses what daprd would dereference and crash on. Together
with :mod:`component.servicer` this is the only code that sees protobuf.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

from google.protobuf import any_pb2, json_format, struct_pb2, wrappers_pb2
from google.protobuf.message import Message as ProtoMessage

from component import errors
from component.conversation import (
    Choice,
    FunctionCall,
    FunctionDefinition,
    JSONValue,
    Message,
    Output,
    Part,
    Request,
    Response,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
)
from component.pb import conversation_pb2 as pb

__all__ = ["from_response", "to_request"]

_ROLES = {
    pb.CONVERSATION_ROLE_HUMAN: Role.HUMAN,
    pb.CONVERSATION_ROLE_SYSTEM: Role.SYSTEM,
    pb.CONVERSATION_ROLE_AI: Role.AI,
    pb.CONVERSATION_ROLE_TOOL: Role.TOOL,
    pb.CONVERSATION_ROLE_FUNCTION: Role.FUNCTION,
    pb.CONVERSATION_ROLE_GENERIC: Role.GENERIC,
    pb.CONVERSATION_ROLE_DEVELOPER: Role.DEVELOPER,
}


# --- protobuf -> domain ------------------------------------------------------


def to_request(
    message: pb.ConversationConverseRequest,
    *,
    deadline: float | None = None,
    trace_headers: Mapping[str, str] | None = None,
) -> Request:
    """Convert and validate a converse request; raise InvalidRequestError."""
    messages = (
        tuple(_to_message(item, f"messages[{i}]") for i, item in enumerate(message.messages.items))
        if message.HasField("messages")
        else None
    )
    tools = (
        tuple(_to_tool(item, f"tools[{i}]") for i, item in enumerate(message.tools.items))
        if message.HasField("tools")
        else None
    )
    if math.isnan(message.temperature) or math.isinf(message.temperature):
        raise errors.InvalidRequestError("temperature must be a finite number")
    retention = None
    if message.HasField("prompt_cache_retention"):
        retention = message.prompt_cache_retention.ToTimedelta()
        if retention < timedelta(0):
            raise errors.InvalidRequestError("prompt_cache_retention must not be negative")
    return Request(
        messages=messages,
        tools=tools,
        tool_choice=message.tool_choice if message.HasField("tool_choice") else None,
        temperature=message.temperature,
        metadata=dict(message.metadata),
        response_format=(
            _struct_to_dict(message.response_format)
            if message.HasField("response_format")
            else None
        ),
        prompt_cache_retention=retention,
        parameters={
            key: _unpack_parameter(key, value) for key, value in message.parameters.items()
        },
        context_id=message.context_id,
        deadline=deadline,
        trace_headers=dict(trace_headers or {}),
    )


def _to_message(message: pb.ConversationMessage, where: str) -> Message:
    role = _ROLES.get(message.role)
    if role is None:
        raise errors.InvalidRequestError(
            f"{where}.role is not set: use one of {', '.join(r.value for r in Role)}"
        )
    return Message(
        role=role,
        parts=tuple(_to_part(part, f"{where}.parts[{i}]") for i, part in enumerate(message.parts)),
    )


def _to_part(part: pb.ConversationContentPart, where: str) -> Part:
    kind = part.WhichOneof("kind")
    if kind == "text":
        return TextPart(part.text.text)
    if kind == "tool_call":
        return _to_tool_call(part.tool_call, f"{where}.tool_call")
    if kind == "tool_call_response":
        r = part.tool_call_response
        return ToolResult(tool_call_id=r.tool_call_id, name=r.name, content=r.content)
    raise errors.InvalidRequestError(
        f"{where} has no content: set one of text, tool_call, tool_call_response"
    )


def _to_tool_call(call: pb.ConversationToolCall, where: str) -> ToolCall:
    if not call.HasField("function"):
        raise errors.InvalidRequestError(f"{where} has no function: a tool call needs one")
    return ToolCall(
        id=call.id,
        type=call.type,
        function=FunctionCall(name=call.function.name, arguments=call.function.arguments),
    )


def _to_tool(tool: pb.ConversationTool, where: str) -> Tool:
    if not tool.HasField("function"):
        raise errors.InvalidRequestError(f"{where} has no function: a tool needs one")
    fn = tool.function
    if not fn.name:
        raise errors.InvalidRequestError(f"{where}.function.name is empty")
    return Tool(
        type=tool.type,
        function=FunctionDefinition(
            name=fn.name,
            description=fn.description,
            parameters=_struct_to_dict(fn.parameters) if fn.HasField("parameters") else None,
            strict=fn.strict,
        ),
    )


def _struct_to_dict(struct: struct_pb2.Struct) -> dict[str, JSONValue]:
    return json_format.MessageToDict(struct)


_WRAPPERS: tuple[type[ProtoMessage], ...] = (
    wrappers_pb2.StringValue,
    wrappers_pb2.BoolValue,
    wrappers_pb2.Int32Value,
    wrappers_pb2.Int64Value,
    wrappers_pb2.UInt32Value,
    wrappers_pb2.UInt64Value,
    wrappers_pb2.FloatValue,
    wrappers_pb2.DoubleValue,
)


def _unpack_parameter(key: str, value: any_pb2.Any) -> JSONValue:
    """Decode a parameter packed in an Any: wrappers, Struct, Value or ListValue."""
    for kind in (*_WRAPPERS, struct_pb2.Value, struct_pb2.Struct, struct_pb2.ListValue):
        target = kind()
        if value.Is(target.DESCRIPTOR):
            value.Unpack(target)
            if kind in _WRAPPERS:
                return getattr(target, "value")  # noqa: B009 - wrappers share no base type
            return json_format.MessageToDict(target)
    raise errors.InvalidRequestError(
        f"parameters[{key!r}] has type {value.TypeName() or 'unknown'}: use a "
        "google.protobuf wrapper (StringValue, Int64Value, DoubleValue, BoolValue, ...), "
        "Value, Struct or ListValue"
    )


# --- domain -> protobuf ------------------------------------------------------


def from_response(response: Response) -> pb.ConversationConverseResponse:
    """Convert a response, refusing what daprd would dereference and crash on."""
    out = pb.ConversationConverseResponse(model=response.model, context_id=response.context_id)
    for i, output in enumerate(response.outputs):
        out.outputs.append(_from_output(output, i))
    if response.usage is not None:
        out.usage.CopyFrom(_from_usage(response.usage))
    return out


def _from_output(output: Output, index: int) -> pb.ConversationOutput:
    if not output.choices:
        raise errors.UpstreamUnavailableError(f"the provider's output {index} has no choices")
    return pb.ConversationOutput(
        stop_reason=output.stop_reason,
        choices=[_from_choice(choice) for choice in output.choices],
    )


def _from_choice(choice: Choice) -> pb.ConversationChoice:
    message = pb.ConversationResultMessage(content=choice.message.content)
    if choice.message.tool_calls is not None:
        message.tool_calls.SetInParent()
        for call in choice.message.tool_calls:
            message.tool_calls.items.append(_from_tool_call(call))
    return pb.ConversationChoice(
        finish_reason=choice.finish_reason, index=choice.index, message=message
    )


def _from_tool_call(call: ToolCall) -> pb.ConversationToolCall:
    return pb.ConversationToolCall(
        id=call.id,
        type=call.type,
        function=pb.ConversationFunctionCall(
            name=call.function.name, arguments=call.function.arguments
        ),
    )


def _from_usage(usage: Usage) -> pb.ConversationUsage:
    out = pb.ConversationUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )
    if usage.prompt_details is not None:
        d = usage.prompt_details
        out.prompt_tokens_details.CopyFrom(
            pb.ConversationPromptTokensDetails(
                cached_tokens=d.cached_tokens, audio_tokens=d.audio_tokens
            )
        )
    if usage.completion_details is not None:
        c = usage.completion_details
        out.completion_tokens_details.CopyFrom(
            pb.ConversationCompletionTokensDetails(
                reasoning_tokens=c.reasoning_tokens,
                audio_tokens=c.audio_tokens,
                accepted_prediction_tokens=c.accepted_prediction_tokens,
                rejected_prediction_tokens=c.rejected_prediction_tokens,
            )
        )
    return out
