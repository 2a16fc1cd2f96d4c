"""The command line: ``python -m component`` / ``pyllm-component``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from component.logs import configure_logging
from component.resources import ProcessResources
from component.server import (
    DEFAULT_MAX_REQUEST_BYTES,
    ServeOptions,
    StartupError,
    serve,
    sockets_folder_from_env,
)
from component.warmup import start_warmup

__all__ = ["main", "parse_args"]

log = logging.getLogger(__name__)

#: The OpenTelemetry Prometheus exporter's customary port; daprd uses 9090.
DEFAULT_METRICS_PORT = 9464


def _positive(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or positive")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (0 to 64)")
    return value


def _request_bytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1024 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size in bytes (1024 to 2147483647)")
    return value


def _name(text: str) -> str:
    if not text or "/" in text or text.startswith("."):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a usable component name (no '/', no leading '.')"
        )
    return text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pyllm-component",
        description="pyllm: a Dapr pluggable conversation component (conversation.<name>).",
    )
    parser.add_argument(
        "--sockets-folder",
        type=Path,
        default=None,
        help="folder of the Unix socket (default: $DAPR_COMPONENTS_SOCKETS_FOLDER, "
        "else $DAPR_COMPONENT_SOCKETS_FOLDER, else /tmp/dapr-components-sockets)",
    )
    parser.add_argument(
        "--name",
        type=_name,
        default="pyllm",
        help="socket name; the Dapr component type is conversation.<name> (default: pyllm)",
    )
    parser.add_argument(
        "--grace-period",
        type=_positive,
        default=25.0,
        help="seconds in-flight calls may take to finish after SIGTERM (default: 25)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="message content is logged at debug only (default: info)",
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--metrics-port",
        type=_port,
        default=DEFAULT_METRICS_PORT,
        help=f"Prometheus /metrics port, 0 for none (default: {DEFAULT_METRICS_PORT}; "
        "daprd's own metrics use 9090)",
    )
    parser.add_argument(
        "--pii-workers",
        type=_workers,
        # A string default goes through ``type`` too: a bad variable is a usage error.
        default=os.environ.get("PYLLM_PII_WORKERS", "0"),
        help="PII analyzer processes shared by all instances, started before the socket; 0 "
        "analyses in one thread of this process (default: $PYLLM_PII_WORKERS, else 0)",
    )
    parser.add_argument(
        "--pii-preload",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("PYLLM_PII_PRELOAD", "true").lower() not in ("0", "false", "no"),
        help="import Presidio, build the default analyzer and start the PII workers at "
        "start, in the background once the socket answers, so that an Init with scrubPII "
        "finds them ready (default: on; $PYLLM_PII_PRELOAD=false turns it off for "
        "processes that never scrub)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=_request_bytes,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="larger converse requests are refused with RESOURCE_EXHAUSTED naming both "
        f"sizes (default: {DEFAULT_MAX_REQUEST_BYTES} = 16 MiB)",
    )
    parser.add_argument(
        "--otlp-endpoint",
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        help="OTLP/HTTP collector URL for GenAI spans, e.g. http://otel-collector:4318 "
        "(default: $OTEL_EXPORTER_OTLP_ENDPOINT; none: no spans, trace context still forwarded)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    redactor = configure_logging(args.log_level, args.log_format)
    options = ServeOptions(
        sockets_folder=args.sockets_folder or sockets_folder_from_env(),
        name=args.name,
        grace_period=args.grace_period,
        metrics_port=args.metrics_port,
        otlp_endpoint=args.otlp_endpoint,
        max_request_bytes=args.max_request_bytes,
    )
    resources = ProcessResources(redactor=redactor)
    try:
        asyncio.run(
            serve(
                options,
                resources=resources,
                ready=lambda: start_warmup(
                    resources, pii=args.pii_preload, pii_workers=args.pii_workers
                ),
            )
        )
    except StartupError as exc:
        log.error("cannot start: %s", exc)  # noqa: TRY400 - the message says it all
        return 2
    finally:
        resources.pii.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
