"""The contract in proto/ and the code generated from it."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from component.pb import conversation_pb2 as pb
from tests.support.component import ROOT

# Messages Dapr registers in dapr.proto.components.v1 (dapr/proto/components/v1/*.proto,
# v1.18): a daprd that linked a second message of one of these names would panic.
DAPR_COMPONENT_MESSAGES = {
    "MetadataRequest", "FeaturesRequest", "FeaturesResponse", "PingRequest", "PingResponse",
    "InitRequest", "InitResponse", "GetRequest", "GetResponse", "SetRequest", "SetResponse",
    "DeleteRequest", "DeleteResponse", "PublishRequest", "PublishResponse", "InvokeRequest",
    "InvokeResponse", "ReadRequest", "ReadResponse", "QueryRequest", "QueryResponse",
}  # fmt: skip


def _generate(only: str, out_flag: str, out: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "genproto.py"), "--only", only, out_flag, str(out)],
        check=True,
        cwd=ROOT,
    )


def _same_tree(generated: Path, committed: Path) -> list[str]:
    names = sorted(p.name for p in generated.iterdir())
    assert names == sorted(p.name for p in committed.iterdir() if p.name != "__pycache__")
    return [n for n in names if not filecmp.cmp(generated / n, committed / n, shallow=False)]


def test_service_full_name_is_what_daprd_looks_for() -> None:
    service = pb.DESCRIPTOR.services_by_name["Conversation"]
    assert service.full_name == "dapr.proto.components.v1.Conversation"
    assert [m.name for m in service.methods] == ["Init", "Features", "Ping", "Converse"]


def test_no_message_name_can_collide_with_daprs_own() -> None:
    names = set(pb.DESCRIPTOR.message_types_by_name) | set(pb.DESCRIPTOR.enum_types_by_name)
    assert all(name.startswith("Conversation") for name in names), names
    assert not names & DAPR_COMPONENT_MESSAGES
    # Our file path is our own too (the Go registry also rejects a duplicate path).
    assert pb.DESCRIPTOR.name == "pyllm/conversation/v1/conversation.proto"


def test_presence_is_explicit_where_unset_and_empty_differ() -> None:
    request = pb.ConversationConverseRequest()
    for field in ("messages", "tools", "tool_choice", "response_format", "prompt_cache_retention"):
        assert not request.HasField(field)
    assert not pb.ConversationConverseResponse().HasField("usage")
    assert not pb.ConversationResultMessage().HasField("tool_calls")


def test_generated_python_is_up_to_date(tmp_path: Path) -> None:
    _generate("python", "--python-out", tmp_path)
    stale = _same_tree(tmp_path, ROOT / "component" / "pb")
    assert not stale, f"regenerate with `make proto`: {stale} differ from proto/"


def test_generated_go_is_up_to_date(tmp_path: Path) -> None:
    _generate("go", "--go-out", tmp_path)
    stale = _same_tree(tmp_path, ROOT / "daprd" / "internal" / "conversationpb")
    assert not stale, f"regenerate with `make proto`: {stale} differ from proto/"
