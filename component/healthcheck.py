"""``python -m component.healthcheck``: ask the component's gRPC health service.

For container HEALTHCHECKs and Kubernetes exec probes (Kubernetes' own gRPC
probe needs a TCP port; pyllm listens on a Unix socket). Exit code 0 when the
component reports SERVING, 1 otherwise, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from component.server import sockets_folder_from_env

__all__ = ["check", "main"]


def check(socket: Path, *, timeout: float = 3.0) -> str | None:
    """``None`` when serving, else what is wrong."""
    if not socket.exists():
        return f"no socket at {socket}"
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError as exc:
            return f"health check failed: {exc.code().name}"
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return f"not serving: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyllm-healthcheck", description=__doc__)
    parser.add_argument("--sockets-folder", type=Path, default=None)
    parser.add_argument("--name", default="pyllm")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    folder = args.sockets_folder or sockets_folder_from_env()
    problem = check(folder / f"{args.name}.sock", timeout=args.timeout)
    if problem is not None:
        print(f"pyllm unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
