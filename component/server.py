"""The process: owns the Unix socket, the gRPC server, signals and shutdown.

daprd discovers pluggable components once, at its own start, by listing the
sockets folder and asking each socket for its services through reflection
v1alpha; a socket that does not answer blocks daprd. So everything heavy is
built before the socket is bound, and the socket is removed at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from component.errors import PyllmError
from component.instances import InstanceRegistry
from component.pipeline import build_pipeline
from component.resources import ProcessResources
from component.servicer import SERVICE_NAME, ConversationServicer, add_to_server
from component.tracing import Tracing

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_SOCKETS_FOLDER",
    "SERVICE_NAME",
    "ServeOptions",
    "StartupError",
    "serve",
    "sockets_folder_from_env",
]

log = logging.getLogger(__name__)

DEFAULT_SOCKETS_FOLDER = "/tmp/dapr-components-sockets"  # noqa: S108 - Dapr's default


# gRPC core cancels calls waiting for a handler once more than 1,000 are pending
# ("Too many pending requests for this server"): a burst from daprd larger than
# that would lose calls while the event loop catches up. Calls are small; queue them.
_PENDING_OPTIONS = (
    ("grpc.server.max_pending_requests", 100_000),
    ("grpc.server.max_pending_requests_hard_limit", 200_000),
)
#: Larger requests are refused with RESOURCE_EXHAUSTED naming both sizes (gRPC's
#: default is 4 MiB, short for long-context prompts).
DEFAULT_MAX_REQUEST_BYTES = 16 * 2**20


class StartupError(PyllmError):
    """The component cannot start (its socket path is unusable, ...)."""


def sockets_folder_from_env(environ: dict[str, str] | None = None) -> Path:
    """The folder daprd reads, else the one Dapr's injector sets, else Dapr's default."""
    env = os.environ if environ is None else environ
    for variable in ("DAPR_COMPONENTS_SOCKETS_FOLDER", "DAPR_COMPONENT_SOCKETS_FOLDER"):
        value = env.get(variable, "").strip()
        if value:
            return Path(value)
    return Path(DEFAULT_SOCKETS_FOLDER)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    sockets_folder: Path
    name: str = "pyllm"
    grace_period: float = 25.0
    #: Port of the Prometheus endpoint; 0 turns it off.
    metrics_port: int = 0
    metrics_address: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes the pod IP
    #: OTLP/HTTP collector base URL for GenAI spans; ``None`` exports nothing.
    otlp_endpoint: str | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES

    @property
    def socket_path(self) -> Path:
        return self.sockets_folder / f"{self.name}.sock"


def _prepare_socket_path(path: Path) -> None:
    """Make room for our socket: replace a stale socket, refuse anything else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(mode):
        log.info("replacing stale socket %s", path)
        path.unlink()
        return
    kind = "symbolic link" if stat.S_ISLNK(mode) else "directory" if stat.S_ISDIR(mode) else "file"
    raise StartupError(
        f"socket path {path} exists and is a {kind}, not a socket: "
        "remove it or choose another --name or --sockets-folder"
    )


def _start_metrics(options: ServeOptions, resources: ProcessResources) -> WSGIServer | None:
    """Serve /metrics; a taken port is logged, not fatal: the LLM path matters more."""
    if not options.metrics_port:
        return None
    try:
        server, _ = start_http_server(
            options.metrics_port, addr=options.metrics_address, registry=resources.metrics.registry
        )
    except OSError as exc:
        log.error(  # noqa: TRY400 - the reason is the whole story
            "metrics endpoint off: cannot listen on %s:%d (%s)",
            options.metrics_address,
            options.metrics_port,
            exc.strerror,
        )
        return None
    log.info("metrics on http://%s:%d/metrics", options.metrics_address, options.metrics_port)
    return server


async def serve(
    options: ServeOptions,
    *,
    ready: Callable[[], object] | None = None,
    stop: asyncio.Event | None = None,
    resources: ProcessResources | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set), then drain and clean up."""
    resources = resources or ProcessResources()
    instances = InstanceRegistry(lambda name, meta: build_pipeline(name, meta, resources))

    server = grpc.aio.server(
        options=(*_PENDING_OPTIONS, ("grpc.max_receive_message_length", options.max_request_bytes))
    )
    tracing = Tracing(otlp_endpoint=options.otlp_endpoint)
    add_to_server(ConversationServicer(instances, resources.metrics, tracing), server)
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]  # stubs lag
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )

    metrics_server = _start_metrics(options, resources)
    socket_path = options.socket_path
    _prepare_socket_path(socket_path)
    server.add_insecure_port(f"unix:{socket_path}")
    await server.start()
    # daprd may run as another user of the pod; the folder's permissions guard access.
    socket_path.chmod(0o666)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving %s on %s", SERVICE_NAME, socket_path)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready()
    try:
        await stop.wait()
        log.info("stopping: draining in-flight calls for up to %.1fs", options.grace_period)
        await health_servicer.enter_graceful_shutdown()
        await server.stop(options.grace_period)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await instances.aclose()
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()
        if metrics_server is not None:
            metrics_server.shutdown()
        tracing.shutdown()
        log.info("stopped")
