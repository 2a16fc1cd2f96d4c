"""A real ``redis-server`` on a free loopback port, in a temporary folder.

Tests kill it (:meth:`RedisServer.kill`), freeze it (:meth:`pause`, SIGSTOP:
a Redis that accepts connections and never answers) and bring it back on the
same port. It runs without persistence except on demand (:meth:`dump`, which
saves an uncompressed RDB so that a grep of its bytes means something).

``from tests.support.redis_server import redis_server_fixture  # noqa: F401``
provides the fixture, *named* ``redis_server`` (its function has another name
so that importing it shadows no test parameter). A missing ``redis-server`` fails the test: install the Debian
package ``redis-server``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.daprd import free_port

__all__ = ["RedisServer", "redis_server_fixture"]


class RedisServer:
    """One redis-server process; restartable on its port."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed: apt-get install -y redis-server",
                pytrace=False,
            )
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 15.0) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--rdbcompression",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.logs()}")
            try:
                with self.client() as client:
                    client.ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(f"redis-server not ready after {timeout}s: {self.logs()}")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def kill(self) -> None:
        """SIGKILL: everything in memory is lost, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: connections are accepted by the kernel and never answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def dump(self) -> bytes:
        """Every byte Redis holds: an uncompressed RDB written on demand."""
        with self.client() as client:
            client.save()
        return (self.folder / "dump.rdb").read_bytes()

    def logs(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
