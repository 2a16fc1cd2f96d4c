"""The gRPC boundary: the only module that sees the contract's protobuf.

Pure ``to_*`` / ``from_*`` functions convert between protobuf and the domain
(:mod:`component.conversation`), validating what daprd could send that no
provider can use; :func:`status_for` maps every domain error to one gRPC
status code. :class:`ConversationServicer` ties them to the instances.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format, struct_pb2, wrappers_pb2
from google.protobuf.message import DecodeError
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
from component.instances import InstanceRegistry
from component.metrics import Metrics
from component.pb import conversation_pb2 as pb
from component.pb import conversation_pb2_grpc as pb_grpc
from component.tracing import CallTrace, Tracing

__all__ = [
    "INSTANCE_HEADER",
    "ConversationServicer",
    "add_to_server",
    "from_response",
    "status_for",
    "to_request",
]

log = logging.getLogger(__name__)

#: The gRPC metadata key daprd uses to name the component instance.
INSTANCE_HEADER = "x-component-instance"

_ROLES = {
    pb.CONVERSATION_ROLE_HUMAN: Role.HUMAN,
    pb.CONVERSATION_ROLE_SYSTEM: Role.SYSTEM,
    pb.CONVERSATION_ROLE_AI: Role.AI,
    pb.CONVERSATION_ROLE_TOOL: Role.TOOL,
    pb.CONVERSATION_ROLE_FUNCTION: Role.FUNCTION,
    pb.CONVERSATION_ROLE_GENERIC: Role.GENERIC,
    pb.CONVERSATION_ROLE_DEVELOPER: Role.DEVELOPER,
}

# Most specific first: the first matching class decides.
_STATUS: tuple[tuple[type[errors.PyllmError], grpc.StatusCode], ...] = (
    (errors.InvalidSettingError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UnknownInstanceError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.RequestTooLargeError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.UpstreamBadRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UpstreamAuthenticationError, grpc.StatusCode.UNAUTHENTICATED),
    (errors.UpstreamPermissionError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.UpstreamNotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.UpstreamRateLimitError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.UpstreamTimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.ProviderError, grpc.StatusCode.UNAVAILABLE),
)


def status_for(error: errors.PyllmError) -> grpc.StatusCode:
    """The gRPC status code a domain error is reported with."""
    for kind, code in _STATUS:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


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


# --- the servicer -------------------------------------------------------------

_Context = grpc.aio.ServicerContext[Any, Any]


def _instance_of(context: _Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == INSTANCE_HEADER:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return ""


def _metadata_of(context: _Context) -> dict[str, str]:
    return {
        key: value
        for key, value in context.invocation_metadata() or ()
        if isinstance(value, str)  # binary ("-bin") headers are not trace context
    }


def _deadline_of(context: _Context) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


class ConversationServicer(pb_grpc.ConversationServicer):
    """dapr.proto.components.v1.Conversation over the instance registry."""

    def __init__(self, instances: InstanceRegistry, metrics: Metrics, tracing: Tracing) -> None:
        self._instances = instances
        self._metrics = metrics
        self._tracing = tracing

    async def Init(  # noqa: N802 - gRPC method name
        self, request: pb.ConversationInitRequest, context: _Context
    ) -> pb.ConversationInitResponse:
        try:
            await self._instances.init(_instance_of(context), dict(request.properties))
        except errors.PyllmError as exc:
            await context.abort(status_for(exc), str(exc))
        return pb.ConversationInitResponse()

    async def Features(  # noqa: N802 - gRPC method name
        self, request: pb.ConversationFeaturesRequest, context: _Context
    ) -> pb.ConversationFeaturesResponse:
        del request
        try:
            features = self._instances.features(_instance_of(context))
        except errors.PyllmError as exc:
            await context.abort(status_for(exc), str(exc))
        return pb.ConversationFeaturesResponse(features=features)

    async def Ping(  # noqa: N802 - gRPC method name
        self, request: pb.ConversationPingRequest, context: _Context
    ) -> pb.ConversationPingResponse:
        del request, context
        return pb.ConversationPingResponse()

    async def converse_encoded(
        self, data: bytes, context: _Context
    ) -> pb.ConversationConverseResponse:
        """Converse on the request's bytes, so that what cannot be decoded gets a clear error.

        gRPC's own decoding would answer INTERNAL "Exception deserializing request!"
        for, say, a JSON schema nested deeper than protobuf's 100 levels.
        """
        try:
            request = pb.ConversationConverseRequest.FromString(data)
        except DecodeError as exc:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request could not be decoded ({exc}); "
                "protobuf allows at most 100 levels of nesting, "
                "for example in a tool's JSON schema",
            )
        return await self.Converse(request, context)

    async def Converse(  # noqa: N802 - gRPC method name
        self, request: pb.ConversationConverseRequest, context: _Context
    ) -> pb.ConversationConverseResponse:
        with self._tracing.call(_metadata_of(context)) as trace:
            return await self._converse(request, context, trace)

    async def _converse(
        self, request: pb.ConversationConverseRequest, context: _Context, trace: CallTrace
    ) -> pb.ConversationConverseResponse:
        name = _instance_of(context)
        started = time.perf_counter()
        provider_name, model, outcome = "", "", grpc.StatusCode.OK
        log.debug("converse on %r started", name)
        try:
            domain = to_request(
                request, deadline=_deadline_of(context), trace_headers=trace.headers
            )
            async with self._instances.use(name) as provider:
                identity = provider.identity(domain)
                provider_name, model = identity.get("provider", ""), identity.get("model", "")
                trace.describe_request(
                    provider=provider_name,
                    model=model,
                    temperature=domain.temperature,
                    conversation=domain.context_id,
                )
                response = await provider.converse(domain)
            answer = from_response(response)
            trace.describe_response(
                model=response.model,
                finish_reasons=[c.finish_reason for o in response.outputs for c in o.choices],
                input_tokens=response.usage.prompt_tokens if response.usage else None,
                output_tokens=response.usage.completion_tokens if response.usage else None,
            )
        except errors.PyllmError as exc:
            outcome = status_for(exc)
            trace.fail(type(exc).__name__)
            log.info("converse on %r failed: %s", name, type(exc).__name__)
            log.debug("converse on %r failed: %s", name, exc)
            await context.abort(outcome, str(exc))
        except asyncio.CancelledError:
            outcome = grpc.StatusCode.CANCELLED
            trace.fail("cancelled")
            raise
        except Exception as exc:
            outcome = grpc.StatusCode.INTERNAL
            trace.fail(type(exc).__name__)
            # Unexpected: keep the message out of the client's and the info log
            # (it might quote a prompt); the traceback is for debug only.
            log.error("converse on %r failed unexpectedly: %s", name, type(exc).__name__)  # noqa: TRY400 - no traceback above debug
            log.debug("unexpected failure", exc_info=True)
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error in pyllm ({type(exc).__name__}); see the component's logs",
            )
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.requests.labels(name, provider_name, model[:64], outcome.name).inc()
            self._metrics.request_seconds.labels(name, provider_name).observe(elapsed)
        log.debug("converse on %r answered in %.1f ms", name, elapsed * 1e3)
        return answer


def add_to_server(servicer: ConversationServicer, server: grpc.aio.Server) -> None:
    """Register the service; Converse receives raw bytes (see ``converse_encoded``)."""
    handlers = {
        "Init": grpc.unary_unary_rpc_method_handler(
            servicer.Init,
            request_deserializer=pb.ConversationInitRequest.FromString,
            response_serializer=pb.ConversationInitResponse.SerializeToString,
        ),
        "Features": grpc.unary_unary_rpc_method_handler(
            servicer.Features,
            request_deserializer=pb.ConversationFeaturesRequest.FromString,
            response_serializer=pb.ConversationFeaturesResponse.SerializeToString,
        ),
        "Ping": grpc.unary_unary_rpc_method_handler(
            servicer.Ping,
            request_deserializer=pb.ConversationPingRequest.FromString,
            response_serializer=pb.ConversationPingResponse.SerializeToString,
        ),
        "Converse": grpc.unary_unary_rpc_method_handler(
            servicer.converse_encoded,
            response_serializer=pb.ConversationConverseResponse.SerializeToString,
        ),
    }
    service = pb.DESCRIPTOR.services_by_name["Conversation"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
