"""Run the real component (``python -m component``) and talk to it like daprd.

:class:`ComponentProcess` starts the component as a subprocess on a socket in a
temporary folder and waits until it answers; :class:`ComponentClient` is a
grpc.aio client of the contract that sends ``x-component-instance`` the way
daprd's pluggable dialer does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from component.pb import conversation_pb2 as pb
from component.pb import conversation_pb2_grpc as pb_grpc

__all__ = ["ROOT", "ComponentClient", "ComponentProcess"]

ROOT = Path(__file__).resolve().parent.parent.parent


class ComponentProcess:
    """One ``python -m component`` process serving ``<folder>/<name>.sock``."""

    def __init__(
        self,
        sockets_folder: Path,
        *,
        name: str = "pyllm",
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        folder_flag: bool = True,
    ) -> None:
        self.sockets_folder = sockets_folder
        self.name = name
        self.socket = sockets_folder / f"{name}.sock"
        self.log_path = log_path or sockets_folder.parent / f"{name}-component.log"
        # No Prometheus endpoint unless a test asks: parallel processes would share a port.
        self._args = list(args) if "--metrics-port" in args else [*args, "--metrics-port", "0"]
        # No background PII warm-up unless a test asks: it costs seconds of CPU per
        # process, and an Init that scrubs builds the engine on demand anyway.
        if not any(a.startswith(("--pii-", "--no-pii-")) for a in self._args):
            self._args.append("--no-pii-preload")
        self._env = dict(env or {})
        self._folder_flag = folder_flag
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30.0) -> ComponentProcess:
        self.sockets_folder.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "component",
                *(["--sockets-folder", str(self.sockets_folder)] if self._folder_flag else []),
                "--name",
                self.name,
                *self._args,
            ],
            cwd=ROOT,
            env={**os.environ, **self._env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Wait until the socket accepts a Ping."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"component exited with {self.proc.returncode}:\n{self.logs()}")
            if self.socket.exists():
                with grpc.insecure_channel(f"unix:{self.socket}") as channel:
                    try:
                        pb_grpc.ConversationStub(channel).Ping(
                            pb.ConversationPingRequest(), timeout=1
                        )
                        return
                    except grpc.RpcError:
                        pass
            time.sleep(0.05)
        raise TimeoutError(f"component not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> ComponentProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ComponentClient:
    """An async client of the contract, naming its instance like daprd does."""

    def __init__(self, socket: Path) -> None:
        self.channel = grpc.aio.insecure_channel(f"unix:{socket}")
        self.stub = pb_grpc.ConversationStub(self.channel)

    @staticmethod
    def _md(instance: str | None) -> list[tuple[str, str]]:
        return [] if instance is None else [("x-component-instance", instance)]

    async def init(self, instance: str | None, properties: Mapping[str, str] | None = None) -> None:
        await self.stub.Init(
            pb.ConversationInitRequest(properties=dict(properties or {})),
            metadata=self._md(instance),
            timeout=10,
        )

    async def converse(
        self, instance: str | None, request: pb.ConversationConverseRequest, **kwargs: Any
    ) -> pb.ConversationConverseResponse:
        kwargs.setdefault("timeout", 30)
        return await self.stub.Converse(request, metadata=self._md(instance), **kwargs)

    async def close(self) -> None:
        await self.channel.close()
