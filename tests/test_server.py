"""The component over its real Unix socket, driven as daprd drives it."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from component.pb import conversation_pb2 as pb
from component.server import sockets_folder_from_env
from tests.support.component import ComponentClient, ComponentProcess

SERVICE = "dapr.proto.components.v1.Conversation"


def text(role: int, *texts: str) -> pb.ConversationMessage:
    return pb.ConversationMessage(
        role=role,
        parts=[pb.ConversationContentPart(text=pb.ConversationTextPart(text=t)) for t in texts],
    )


def converse_request(
    *messages: pb.ConversationMessage, **fields: object
) -> pb.ConversationConverseRequest:
    req = pb.ConversationConverseRequest(**fields)  # type: ignore[arg-type]
    req.messages.SetInParent()
    req.messages.items.extend(messages)
    return req


async def test_reflection_v1alpha_lists_the_service(component: ComponentProcess) -> None:
    async with grpc.aio.insecure_channel(f"unix:{component.socket}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        services = []
        async for answer in call:
            services = [s.name for s in answer.list_services_response.service]
            break
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services


async def test_health_reports_serving(component: ComponentProcess) -> None:
    async with grpc.aio.insecure_channel(f"unix:{component.socket}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_socket_is_connectable_by_other_users_of_the_pod(component: ComponentProcess) -> None:
    mode = component.socket.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert mode & 0o777 == 0o666


async def test_ping_needs_no_init(client: ComponentClient) -> None:
    await client.stub.Ping(pb.ConversationPingRequest())


async def test_uninitialised_instance_is_failed_precondition(client: ComponentClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.converse("ghost", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "hi")))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details() == (
        "component instance 'ghost' is not initialised: call Init for it first"
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.stub.Features(
            pb.ConversationFeaturesRequest(), metadata=[("x-component-instance", "ghost")]
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_two_instances_keep_their_own_settings(client: ComponentClient) -> None:
    await client.init("fast", {"provider": "echo"})
    await client.init("slow", {"provider": "echo", "echoDelay": "400ms"})
    features = await client.stub.Features(
        pb.ConversationFeaturesRequest(), metadata=[("x-component-instance", "fast")]
    )
    assert list(features.features) == []
    req = converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "hello"))
    # The slow instance's delay shows its own settings; the fast one answers at once.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.converse("slow", req, timeout=0.2)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    answer = await client.converse("fast", req, timeout=5)
    assert answer.outputs[0].choices[0].message.content == "hello"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"provider": "gemini"},
            "metadata field 'provider': 'gemini' is not one of echo",
        ),
        (
            {"provider": "echo", "echoDelay": "soon"},
            "metadata field 'echoDelay': 'soon' is not a duration: "
            "use Go syntax such as 300ms, 10m or 1h30m",
        ),
    ],
)
async def test_invalid_settings_are_invalid_argument(
    client: ComponentClient, properties: dict[str, str], message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.init("bad", properties)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(message)
    # A failed Init leaves the instance unusable, not half-configured.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.converse("bad", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "x")))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_every_message_type_and_part(client: ComponentClient) -> None:
    await client.init("pyllm", {})
    params = struct_pb2.Struct()
    params.update({"type": "object", "properties": {"city": {"type": "string"}, "unit": {}}})
    req = converse_request(
        text(pb.CONVERSATION_ROLE_SYSTEM, "be brief"),
        text(pb.CONVERSATION_ROLE_DEVELOPER, "dev note"),
        text(pb.CONVERSATION_ROLE_HUMAN, "weather?"),
        pb.ConversationMessage(
            role=pb.CONVERSATION_ROLE_AI,
            parts=[
                pb.ConversationContentPart(text=pb.ConversationTextPart(text="checking")),
                pb.ConversationContentPart(
                    tool_call=pb.ConversationToolCall(
                        id="call-1",
                        type="function",
                        function=pb.ConversationFunctionCall(
                            name="weather", arguments='{"city":"Oslo"}'
                        ),
                    )
                ),
            ],
        ),
        pb.ConversationMessage(
            role=pb.CONVERSATION_ROLE_TOOL,
            parts=[
                pb.ConversationContentPart(
                    tool_call_response=pb.ConversationToolCallResponse(
                        tool_call_id="call-1", name="weather", content="rain"
                    )
                )
            ],
        ),
        text(pb.CONVERSATION_ROLE_GENERIC, "generic"),
        text(pb.CONVERSATION_ROLE_FUNCTION, "function"),
        context_id="ctx-7",
        tool_choice="auto",
        temperature=0.3,
    )
    req.tools.items.append(
        pb.ConversationTool(
            type="function",
            function=pb.ConversationFunctionDefinition(
                name="weather", description="w", parameters=params
            ),
        )
    )
    answer = await client.converse("pyllm", req)
    assert answer.context_id == "ctx-7"
    [output] = answer.outputs
    assert output.stop_reason == "tool_calls"
    [choice] = output.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == (
        "be brief\ndev note\nweather?\nchecking\n"
        "Tool Response for tool ID 'call-1' with name 'weather': rain\ngeneric\nfunction"
    )
    calls = [
        (c.id, c.type, c.function.name, c.function.arguments)
        for c in choice.message.tool_calls.items
    ]
    assert calls == [
        ("0", "function", "weather", "city,unit"),
        ("call-1", "function", "weather", '{"city":"Oslo"}'),
    ]
    assert answer.HasField("usage")
    words = len(choice.message.content.split())
    assert (
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
        answer.usage.total_tokens,
    ) == (
        words,
        words,
        2 * words,
    )


async def test_unset_and_empty_stay_apart(client: ComponentClient) -> None:
    await client.init("pyllm", {})
    # No message list at all: no outputs and no usage, as echo.go.
    answer = await client.converse("pyllm", pb.ConversationConverseRequest(context_id="c"))
    assert list(answer.outputs) == []
    assert not answer.HasField("usage")
    assert answer.context_id == "c"
    # A message list without tool calls: the tool call list is absent, not empty.
    answer = await client.converse("pyllm", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "x")))
    assert not answer.outputs[0].choices[0].message.HasField("tool_calls")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r.messages.items.append(
                pb.ConversationMessage(
                    role=pb.CONVERSATION_ROLE_HUMAN, parts=[pb.ConversationContentPart()]
                )
            ),
            "messages[1].parts[0] has no content: set one of text, tool_call, tool_call_response",
        ),
        (
            lambda r: r.messages.items.append(
                pb.ConversationMessage(
                    role=pb.CONVERSATION_ROLE_AI,
                    parts=[pb.ConversationContentPart(tool_call=pb.ConversationToolCall(id="x"))],
                )
            ),
            "messages[1].parts[0].tool_call has no function: a tool call needs one",
        ),
        (
            lambda r: r.messages.items.append(pb.ConversationMessage(parts=[])),
            "messages[1].role is not set: "
            "use one of human, system, ai, tool, function, generic, developer",
        ),
        (
            lambda r: r.tools.items.append(pb.ConversationTool(type="function")),
            "tools[0] has no function: a tool needs one",
        ),
        (
            lambda r: setattr(r, "temperature", float("nan")),
            "temperature must be a finite number",
        ),
    ],
)
async def test_malformed_requests_are_invalid_argument(
    client: ComponentClient, mutate, message: str
) -> None:
    await client.init("pyllm", {})
    req = converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "hi"))
    mutate(req)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.converse("pyllm", req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == message


async def test_unknown_parameter_type_is_invalid_argument(client: ComponentClient) -> None:
    await client.init("pyllm", {})
    req = converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "hi"))
    req.parameters["weird"].Pack(pb.ConversationPingRequest())
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.converse("pyllm", req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        "parameters['weird'] has type dapr.proto.components.v1.ConversationPingRequest"
        in info.value.details()
    )


async def test_sigterm_finishes_the_in_flight_call_then_removes_the_socket(
    component: ComponentProcess, client: ComponentClient
) -> None:
    await client.init("slow", {"echoDelay": "1s"})
    call = asyncio.create_task(
        client.converse("slow", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "late")))
    )
    await asyncio.sleep(0.3)
    component.signal(signal.SIGTERM)
    answer = await call
    assert answer.outputs[0].choices[0].message.content == "late"
    assert await asyncio.to_thread(component.wait, 10) == 0
    assert not component.socket.exists()


async def test_new_calls_after_sigterm_are_refused_cleanly(
    component: ComponentProcess, client: ComponentClient
) -> None:
    await client.init("slow", {"echoDelay": "1s"})
    first = asyncio.create_task(
        client.converse("slow", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "a")))
    )
    await asyncio.sleep(0.3)
    component.signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.converse(
            "slow", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "b")), timeout=5
        )
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (await first).outputs[0].choices[0].message.content == "a"


def test_stale_socket_is_replaced(sockets_folder: Path) -> None:
    first = ComponentProcess(sockets_folder).start()
    first.proc.kill()  # type: ignore[union-attr]
    first.wait()
    assert first.socket.exists()  # left behind by the killed process
    with ComponentProcess(sockets_folder) as second:
        assert stat.S_ISSOCK(second.socket.stat().st_mode)


@pytest.mark.parametrize("kind", ["file", "directory", "symlink"])
def test_refuses_a_socket_path_that_is_not_a_socket(sockets_folder: Path, kind: str) -> None:
    path = sockets_folder / "pyllm.sock"
    if kind == "file":
        path.write_text("precious")
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to(sockets_folder / "elsewhere")
    proc = ComponentProcess(sockets_folder)
    with pytest.raises(RuntimeError, match="exited with 2"):
        proc.start(timeout=30)
    word = {"file": "file", "directory": "directory", "symlink": "symbolic link"}[kind]
    assert f"exists and is a {word}, not a socket" in proc.logs()
    assert os.path.lexists(path)


@pytest.mark.parametrize(
    "variable", ["DAPR_COMPONENTS_SOCKETS_FOLDER", "DAPR_COMPONENT_SOCKETS_FOLDER"]
)
def test_sockets_folder_comes_from_the_environment(tmp_path: Path, variable: str) -> None:
    folder = tmp_path / "env"
    env = {
        "DAPR_COMPONENTS_SOCKETS_FOLDER": "",
        "DAPR_COMPONENT_SOCKETS_FOLDER": "",
        variable: str(folder),
    }
    with ComponentProcess(folder, env=env, folder_flag=False) as proc:
        assert stat.S_ISSOCK(proc.socket.stat().st_mode)


def test_daprd_variable_wins_over_the_injector_one() -> None:
    env = {"DAPR_COMPONENTS_SOCKETS_FOLDER": "/a", "DAPR_COMPONENT_SOCKETS_FOLDER": "/b"}
    assert sockets_folder_from_env(env) == Path("/a")
    assert sockets_folder_from_env({"DAPR_COMPONENT_SOCKETS_FOLDER": "/b"}) == Path("/b")
    assert sockets_folder_from_env({}) == Path("/tmp/dapr-components-sockets")


async def test_sigterm_under_load_drains_every_in_flight_call(
    component: ComponentProcess, client: ComponentClient
) -> None:
    await client.init("slow", {"echoDelay": "1s"})
    calls = [
        asyncio.create_task(
            client.converse("slow", converse_request(text(pb.CONVERSATION_ROLE_HUMAN, f"call {i}")))
        )
        for i in range(60)
    ]
    await asyncio.sleep(0.5)
    component.signal(signal.SIGTERM)
    answers = await asyncio.gather(*calls)
    assert [a.outputs[0].choices[0].message.content for a in answers] == [
        f"call {i}" for i in range(60)
    ]
    assert await asyncio.to_thread(component.wait, 10) == 0
    assert not component.socket.exists()


async def test_an_oversized_request_is_refused_saying_so(sockets_folder: Path) -> None:
    with ComponentProcess(sockets_folder, args=["--max-request-bytes", "65536"]) as proc:
        client = ComponentClient(proc.socket)
        await client.init("pyllm", {})
        fits = converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "x" * 60_000))
        assert (await client.converse("pyllm", fits)).outputs[0].choices[0].message.content
        too_big = converse_request(text(pb.CONVERSATION_ROLE_HUMAN, "x" * 70_000))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.converse("pyllm", too_big)
        await client.close()
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in info.value.details()
    assert "65536" in info.value.details()


async def test_a_burst_larger_than_grpcs_pending_queue_loses_no_call(
    component: ComponentProcess, client: ComponentClient
) -> None:
    # gRPC core would cancel calls beyond 1,000 waiting for a handler; none may be lost.
    await client.init("burst", {"echoDelay": "200ms"})
    requests = [converse_request(text(pb.CONVERSATION_ROLE_HUMAN, f"b{i}")) for i in range(2500)]
    answers = await asyncio.gather(*(client.converse("burst", r, timeout=120) for r in requests))
    assert [a.outputs[0].choices[0].message.content for a in answers] == [
        f"b{i}" for i in range(2500)
    ]
