"""Run the project's real daprd (``daprd/bin/daprd``) for end-to-end tests.

:class:`Daprd` writes the resources (Component, Resiliency, ... YAML) into a
temporary folder, starts daprd on free loopback ports with the component
sockets folder in ``DAPR_COMPONENTS_SOCKETS_FOLDER``, waits for its health
endpoint and offers small helpers for the Conversation API. A missing binary
is an error (the tests fail, never skip): build it with ``make daprd``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.component import ROOT

__all__ = ["DAPRD_BINARY", "Daprd", "component_yaml", "free_port", "resiliency_yaml"]

DAPRD_BINARY = ROOT / "daprd" / "bin" / "daprd"
#: Name resolution without mDNS multicast: everything stays on loopback.
DAPRD_CONFIG = ROOT / "daprd" / "config" / "standalone.yaml"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def component_yaml(
    name: str,
    type_: str,
    metadata: Mapping[str, str] | None = None,
    *,
    version: str = "v1",
    scopes: list[str] | None = None,
) -> str:
    """A Dapr Component resource."""
    doc: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": type_,
            "version": version,
            "metadata": [{"name": k, "value": v} for k, v in (metadata or {}).items()],
        },
    }
    if scopes:
        doc["scopes"] = scopes
    return yaml.safe_dump(doc, sort_keys=False)


def resiliency_yaml(
    component: str, *, timeout: str | None = None, retries: int | None = None
) -> str:
    """A Dapr Resiliency resource applying a timeout and/or a constant retry to a component."""
    policies: dict[str, Any] = {}
    outbound: dict[str, str] = {}
    if timeout is not None:
        policies["timeouts"] = {"short": timeout}
        outbound["timeout"] = "short"
    if retries is not None:
        policies["retries"] = {
            "again": {"policy": "constant", "duration": "50ms", "maxRetries": retries}
        }
        outbound["retry"] = "again"
    doc = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Resiliency",
        "metadata": {"name": f"{component}-resiliency"},
        "spec": {
            "policies": policies,
            "targets": {"components": {component: {"outbound": outbound}}},
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


class Daprd:
    """One daprd process on free loopback ports."""

    def __init__(
        self,
        workdir: Path,
        *,
        sockets_folder: Path,
        resources: Mapping[str, str],
        app_id: str = "e2e",
        binary: Path = DAPRD_BINARY,
    ) -> None:
        self.workdir = workdir
        self.sockets_folder = sockets_folder
        self.resources = dict(resources)
        self.app_id = app_id
        self.binary = binary
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.public_port = free_port()
        self.log_path = workdir / "daprd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, *, timeout: float = 60.0) -> Daprd:
        if not self.binary.is_file():
            raise FileNotFoundError(
                f"daprd binary {self.binary} is missing: build it with `make daprd`"
            )
        resources_dir = self.workdir / "resources"
        resources_dir.mkdir(parents=True, exist_ok=True)
        for filename, text in self.resources.items():
            (resources_dir / filename).write_text(text)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "--app-id",
                self.app_id,
                "--resources-path",
                str(resources_dir),
                "--config",
                str(DAPRD_CONFIG),
                "--dapr-http-port",
                str(self.http_port),
                "--dapr-grpc-port",
                str(self.grpc_port),
                "--dapr-internal-grpc-port",
                str(free_port()),
                "--dapr-internal-grpc-listen-address",
                "127.0.0.1",
                "--dapr-public-port",
                str(self.public_port),
                "--dapr-public-listen-address",
                "127.0.0.1",
                "--dapr-listen-addresses",
                "127.0.0.1",
                "--enable-metrics=false",
                "--placement-host-address",
                "",
                "--scheduler-host-address",
                "",
                "--log-level",
                "debug",
            ],
            cwd=self.workdir,
            env={**os.environ, "DAPR_COMPONENTS_SOCKETS_FOLDER": str(self.sockets_folder)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"daprd exited with {self.proc.returncode}:\n{self.logs()[-4000:]}"
                )
            try:
                if httpx.get(f"{self.http_url}/v1.0/healthz", timeout=1).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"daprd not healthy after {timeout}s:\n{self.logs()[-4000:]}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def converse(
        self,
        name: str,
        body: Mapping[str, Any],
        *,
        version: str = "alpha2",
        params: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> httpx.Response:
        return httpx.post(
            f"{self.http_url}/v1.0-{version}/conversation/{name}/converse",
            json=dict(body),
            params=dict(params or {}),
            timeout=timeout,
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Daprd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
