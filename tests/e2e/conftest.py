"""One component and one daprd for the end-to-end modules (they are slow to start)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.component import ROOT, ComponentProcess
from tests.support.daprd import Daprd, component_yaml, resiliency_yaml
from tests.support.openai_server import OpenAIServer
from tests.support.sensitive import API_KEYS


@dataclass
class Stack:
    component: ComponentProcess
    daprd: Daprd
    upstream: OpenAIServer


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e")
    sockets = work / "s"
    upstream = OpenAIServer().start()
    openai = {"provider": "openai", "endpoint": upstream.base_url, "key": API_KEYS[0]}
    resources = {
        # The default component, as components/ ships it.
        "pyllm.yaml": component_yaml("pyllm", "conversation.pyllm", {"provider": "echo"}),
        # A second component of the same type with other settings, in the same process.
        "slow.yaml": component_yaml(
            "pyllm-slow", "conversation.pyllm", {"provider": "echo", "echoDelay": "400ms"}
        ),
        "slow-resiliency.yaml": resiliency_yaml("pyllm-slow", timeout="150ms", retries=2),
        # Dapr's own echo, built into this daprd, for side-by-side conformance.
        "echo.yaml": component_yaml("echo", "conversation.echo"),
        # A real provider call to a local OpenAI-compatible server.
        "openai.yaml": component_yaml("pyllm-openai", "conversation.pyllm", openai),
        # No retries of its own: daprd's resiliency policy retries it.
        "flaky.yaml": component_yaml(
            "pyllm-flaky", "conversation.pyllm", {**openai, "maxRetries": "0"}
        ),
        "flaky-resiliency.yaml": resiliency_yaml("pyllm-flaky", retries=2),
        # The ?metadata.<key> URL middleware, exactly as components/ ships it.
        "conversation-metadata.yaml": (
            ROOT / "components" / "conversation-metadata.yaml"
        ).read_text(),
    }
    with (
        # As deployed: the PII warm-up runs in the background while daprd initialises.
        ComponentProcess(sockets, args=["--log-level", "debug", "--pii-preload"]) as component,
        pytest.MonkeyPatch.context() as env,
    ):
        daprd = Daprd(work, sockets_folder=sockets, resources=resources)
        # The Dapr SDK checks the sidecar's health on DAPR_HTTP_PORT before a gRPC call.
        env.setenv("DAPR_HTTP_PORT", str(daprd.http_port))
        env.setenv("DAPR_GRPC_PORT", str(daprd.grpc_port))
        try:
            daprd.start()
            yield Stack(component, daprd, upstream)
        finally:
            daprd.stop()
            upstream.stop()
