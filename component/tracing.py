"""Trace context: W3C ``traceparent`` in from daprd, out to the upstream call.

Without an exporter, the incoming ``traceparent``/``tracestate`` travel on
unchanged to the provider's HTTP call, so the upstream joins daprd's trace.
With an OTLP endpoint (``--otlp-endpoint`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``),
each Converse is a CLIENT span following OpenTelemetry's GenAI conventions
(``chat <model>``, ``gen_ai.*`` attributes, never prompt or answer text),
child of daprd's span and parent of the upstream call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["W3C_HEADERS", "CallTrace", "Tracing"]

#: The W3C trace context headers (gRPC metadata keys are lower case).
W3C_HEADERS = ("traceparent", "tracestate")


@dataclass(slots=True)
class CallTrace:
    """One call's trace: the headers for the upstream request and the span, if any."""

    headers: dict[str, str] = field(default_factory=dict)
    span: Span | None = None

    def describe_request(
        self, *, provider: str, model: str, temperature: float, conversation: str
    ) -> None:
        if self.span is None:
            return
        if model:
            self.span.update_name(f"chat {model}")
            self.span.set_attribute("gen_ai.request.model", model)
        self.span.set_attribute("gen_ai.provider.name", provider)
        self.span.set_attribute("gen_ai.request.temperature", temperature)
        if conversation:
            self.span.set_attribute("gen_ai.conversation.id", conversation)

    def describe_response(
        self,
        *,
        model: str,
        finish_reasons: Sequence[str],
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> None:
        if self.span is None:
            return
        if model:
            self.span.set_attribute("gen_ai.response.model", model)
        self.span.set_attribute("gen_ai.response.finish_reasons", list(finish_reasons))
        if input_tokens is not None:
            self.span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        if output_tokens is not None:
            self.span.set_attribute("gen_ai.usage.output_tokens", output_tokens)

    def fail(self, error_type: str) -> None:
        if self.span is not None:
            self.span.set_attribute("error.type", error_type)
            self.span.set_status(Status(StatusCode.ERROR))


class Tracing:
    """Spans when an OTLP endpoint is configured; context pass-through always."""

    def __init__(self, *, otlp_endpoint: str | None = None, service_name: str = "pyllm") -> None:
        self._propagator = TraceContextTextMapPropagator()
        self._provider: TracerProvider | None = None
        if otlp_endpoint:
            # Imported here: the exporter pulls in requests, only needed when on.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            self._provider = TracerProvider(
                resource=Resource.create({"service.name": service_name})
            )
            exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
            self._provider.add_span_processor(BatchSpanProcessor(exporter))

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    @contextlib.contextmanager
    def call(self, incoming: Mapping[str, str]) -> Iterator[CallTrace]:
        """Trace one call whose gRPC metadata is ``incoming``."""
        carrier = {k: v for k, v in incoming.items() if k in W3C_HEADERS}
        if self._provider is None:
            yield CallTrace(headers=carrier)
            return
        parent = self._propagator.extract(carrier)
        tracer = self._provider.get_tracer("pyllm")
        with tracer.start_as_current_span(
            "chat",
            context=parent,
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.operation.name": "chat"},
            record_exception=False,  # exception messages may quote a prompt
            set_status_on_exception=False,
        ) as span:
            headers: dict[str, str] = {}
            self._propagator.inject(headers, context=set_span_in_context(span))
            yield CallTrace(headers=headers, span=span)

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
