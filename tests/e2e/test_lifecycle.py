"""Lifecycle through the real daprd: the component killed and restarted under it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support.component import ComponentProcess
from tests.support.daprd import Daprd, component_yaml
from tests.support.openai_server import OpenAIServer
from tests.support.sensitive import API_KEYS

pytestmark = pytest.mark.e2e

BODY = {"inputs": [{"messages": [{"ofUser": {"content": [{"text": "still there?"}]}}]}]}


def test_a_restarted_component_serves_again_under_a_running_daprd(tmp_path: Path) -> None:
    sockets = tmp_path / "s"
    with OpenAIServer() as upstream:
        settings = {
            "provider": "openai",
            "endpoint": upstream.base_url,
            "key": API_KEYS[0],
            "cacheTTL": "10m",
            "cacheDir": str(tmp_path / "cache"),
        }
        resources = {"pyllm.yaml": component_yaml("pyllm", "conversation.pyllm", settings)}
        first = ComponentProcess(sockets, log_path=tmp_path / "first.log").start()
        with Daprd(tmp_path, sockets_folder=sockets, resources=resources) as daprd:
            assert daprd.converse("pyllm", BODY).status_code == 200
            assert len(upstream.requests) == 1

            first.signal(signal.SIGKILL)
            first.wait()
            assert first.socket.exists()  # the stale socket stays behind
            down = daprd.converse("pyllm", BODY, timeout=30)
            assert down.status_code == 500
            assert down.json()["errorCode"] == "ERR_CONVERSATION_INVOKE"

            # The new process replaces the socket; it has lost every instance's
            # settings, so the bridge re-initialises "pyllm" with the metadata it
            # kept, and the disk cache written before the kill answers.
            with ComponentProcess(sockets, log_path=tmp_path / "second.log"):
                deadline = time.monotonic() + 20
                answer = daprd.converse("pyllm", BODY)
                while answer.status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    answer = daprd.converse("pyllm", BODY)
                assert answer.status_code == 200, answer.text
                assert answer.json()["outputs"][0]["choices"][0]["message"]["content"] == (
                    "echo: still there?"
                )
                assert len(upstream.requests) == 1  # answered from the surviving cache
            assert "initialising it again with the metadata daprd gave" in daprd.logs()
