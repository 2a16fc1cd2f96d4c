"""Trace context from daprd reaches the component's GenAI span (OTLP on)."""

from __future__ import annotations

import time
from pathlib import Path

from component.pb import conversation_pb2 as pb
from tests.support.component import ComponentClient, ComponentProcess
from tests.support.otlp_receiver import OtlpReceiver
from tests.test_server import converse_request, text

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def _attributes(span) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = (
            [v.string_value for v in value.array_value.values]
            if kind == "array_value"
            else getattr(value, kind)
        )
    return out


async def test_converse_is_a_genai_span_child_of_daprds(sockets_folder: Path) -> None:
    with OtlpReceiver() as receiver:
        args = ["--otlp-endpoint", receiver.url]
        with ComponentProcess(sockets_folder, args=args) as proc:
            client = ComponentClient(proc.socket)
            await client.init("chat", {"provider": "echo"})
            await client.stub.Converse(
                converse_request(
                    text(pb.CONVERSATION_ROLE_HUMAN, "secret prompt words"), context_id="conv-1"
                ),
                metadata=[
                    ("x-component-instance", "chat"),
                    ("traceparent", f"00-{TRACE_ID}-{PARENT_SPAN}-01"),
                ],
                timeout=10,
            )
            await client.close()
        # The batch processor flushes at shutdown (SIGTERM above).
        deadline = time.monotonic() + 10
        while not receiver.spans and time.monotonic() < deadline:
            time.sleep(0.05)
    [span] = receiver.spans
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == PARENT_SPAN
    assert span.name == "chat"
    attributes = _attributes(span)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "echo"
    assert attributes["gen_ai.conversation.id"] == "conv-1"
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gen_ai.usage.input_tokens"] == 3
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert "secret" not in str(span)
