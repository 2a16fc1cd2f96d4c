"""Generate the Python and Go code for the contract in proto/.

Usage: python tools/genproto.py [--python-out DIR] [--go-out DIR] [--only python|go]

The Python code lands in component/pb (inside our package, so it never shadows the
dapr SDK's ``dapr.*`` namespace); the Go code in daprd/internal/conversationpb. The
staleness tests run this into a temporary folder and compare byte for byte.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "pyllm/conversation/v1/conversation.proto"
PY_OUT = ROOT / "component" / "pb"
GO_OUT = ROOT / "daprd" / "internal" / "conversationpb"
GO_MODULE = ROOT / "daprd"
GO_PACKAGE_PREFIX = "github.com/pyllm/pyllm/daprd/"

_HEADER = "# Generated from proto/{src} by tools/genproto.py. Do not edit.\n"


def _protoc(args: list[str]) -> None:
    from grpc_tools import protoc  # noqa: PLC0415 - dev-only dependency

    include = str(Path(protoc.__file__).parent / "_proto")
    rc = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{include}", *args, PROTO_FILE])
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")


def generate_python(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mypy_plugin = Path(sys.executable).parent / "protoc-gen-mypy"
        mypy_grpc_plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
        _protoc(
            [
                f"--plugin=protoc-gen-mypy={mypy_plugin}",
                f"--plugin=protoc-gen-mypy_grpc={mypy_grpc_plugin}",
                f"--python_out={tmp}",
                f"--grpc_python_out={tmp}",
                f"--mypy_out={tmp}",
                f"--mypy_grpc_out={tmp}",
            ]
        )
        gen = Path(tmp) / Path(PROTO_FILE).parent
        out.mkdir(parents=True, exist_ok=True)
        for path in sorted(gen.iterdir()):
            text = path.read_text()
            # protoc writes absolute imports from the proto root; ours live in component.pb.
            text = text.replace(
                "from pyllm.conversation.v1 import conversation_pb2",
                "from component.pb import conversation_pb2",
            )
            if path.suffix in {".py", ".pyi"}:
                text = _HEADER.format(src=PROTO_FILE) + text
            (out / path.name).write_text(text)
        init = out / "__init__.py"
        init.write_text('"""Code generated from proto/ by tools/genproto.py. Do not edit."""\n')


def _go_plugin(name: str, bindir: Path) -> Path:
    """Build a protoc plugin at the version pinned by daprd/go.mod's tool directives."""
    target = bindir / name
    subprocess.run(
        ["go", "build", "-o", str(target), _GO_TOOLS[name]],
        cwd=GO_MODULE,
        check=True,
        env={**os.environ, "CGO_ENABLED": "0"},
    )
    return target


_GO_TOOLS = {
    "protoc-gen-go": "google.golang.org/protobuf/cmd/protoc-gen-go",
    "protoc-gen-go-grpc": "google.golang.org/grpc/cmd/protoc-gen-go-grpc",
}


def generate_go(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bindir = Path(tmp) / "bin"
        gen = Path(tmp) / "gen"
        gen.mkdir()
        plugins = [f"--plugin={name}={_go_plugin(name, bindir)}" for name in _GO_TOOLS]
        _protoc(
            [
                *plugins,
                f"--go_out={gen}",
                f"--go-grpc_out={gen}",
                "--go_opt=paths=import",
                "--go-grpc_opt=paths=import",
            ]
        )
        produced = gen / GO_PACKAGE_PREFIX / "internal" / "conversationpb"
        out.mkdir(parents=True, exist_ok=True)
        for path in sorted(produced.iterdir()):
            shutil.copyfile(path, out / path.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python-out", type=Path, default=PY_OUT)
    parser.add_argument("--go-out", type=Path, default=GO_OUT)
    parser.add_argument("--only", choices=["python", "go"])
    args = parser.parse_args(argv)
    if args.only in (None, "python"):
        generate_python(args.python_out)
    if args.only in (None, "go"):
        generate_go(args.go_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
