"""The Prometheus endpoint of a real component process."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import httpx
import pytest

from component.pb import conversation_pb2 as pb
from tests.support.component import ComponentClient, ComponentProcess
from tests.support.daprd import free_port
from tests.test_server import converse_request, text

SECRET_PROMPT = "the launch code is 0000-TANGO"


async def test_requests_latency_and_outcomes_are_exported(sockets_folder: Path) -> None:
    port = free_port()
    with ComponentProcess(sockets_folder, args=["--metrics-port", str(port)]) as proc:
        client = ComponentClient(proc.socket)
        await client.init("chat", {"provider": "echo"})
        for _ in range(2):
            await client.converse(
                "chat", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, SECRET_PROMPT))
            )
        bad = converse_request(text(pb.CONVERSATION_ROLE_HUMAN, SECRET_PROMPT))
        bad.messages.items.append(pb.ConversationMessage(parts=[]))
        with pytest.raises(grpc.aio.AioRpcError):
            await client.converse("chat", bad)
        await client.close()
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'pyllm_requests_total{instance="chat",model="",outcome="OK",provider="echo"} 2.0' in body
    # Invalid before the pipeline was reached: no provider label is known yet.
    assert (
        'pyllm_requests_total{instance="chat",model="",outcome="INVALID_ARGUMENT",provider=""} 1.0'
        in body
    )
    assert 'pyllm_request_seconds_count{instance="chat",provider="echo"} 2.0' in body
    assert "TANGO" not in body


def test_a_taken_metrics_port_does_not_stop_the_component(sockets_folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the component binds all interfaces
        taken.listen()
        port = taken.getsockname()[1]
        with ComponentProcess(sockets_folder, args=["--metrics-port", str(port)]) as proc:
            assert proc.socket.exists()
        assert f"metrics endpoint off: cannot listen on 0.0.0.0:{port}" in proc.logs()
