"""The gRPC boundary: the Conversation service over the instances.

:class:`ConversationServicer` ties the contract's calls to the instance
registry; :func:`status_for` maps every domain error to one gRPC status code;
the protobuf conversions are pure functions in :mod:`component.wire`. These two
modules are the only code that sees protobuf.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from component import errors
from component.instances import InstanceRegistry
from component.metrics import Metrics
from component.pb import conversation_pb2 as pb
from component.pb import conversation_pb2_grpc as pb_grpc
from component.tracing import CallTrace, Tracing
from component.wire import from_response, to_request

__all__ = [
    "INSTANCE_HEADER",
    "SERVICE_NAME",
    "ConversationServicer",
    "add_to_server",
    "status_for",
]

log = logging.getLogger(__name__)

#: The gRPC metadata key daprd uses to name the component instance.
INSTANCE_HEADER = "x-component-instance"
#: The service a daprd with pluggable conversation looks for.
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Conversation"].full_name

# Most specific first: the first matching class decides.
_STATUS: tuple[tuple[type[errors.PyllmError], grpc.StatusCode], ...] = (
    (errors.InvalidSettingError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UnknownInstanceError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    # A worker died (and is being replaced): worth a retry, like an upstream outage.
    (errors.PiiEngineError, grpc.StatusCode.UNAVAILABLE),
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
                f"the request could not be decoded ({exc}): every string must be valid "
                "UTF-8, and protobuf allows at most 100 levels of nesting, "
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
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
