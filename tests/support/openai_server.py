"""A real OpenAI-compatible HTTP server on 127.0.0.1, scripted by the tests.

The openai SDK talks to it over a real socket, so the tests see exactly what an
upstream receives (path, query, headers, JSON body) and what the SDK makes of
real answers, slow answers, broken answers and dropped connections::

    server = OpenAIServer().start()
    server.enqueue(Reply(status=429, headers={"Retry-After": "0"}), Reply())
    ...  # point a client at server.base_url (or server.root for Azure)
    assert server.requests[-1].body["model"] == "gpt-4o"
    server.stop()

It answers ``POST .../chat/completions`` under any prefix, which covers both
``/v1/chat/completions`` and Azure's
``/openai/deployments/<deployment>/chat/completions?api-version=...``; every
other path gets a 404 in OpenAI's error shape. Each request takes the next
:class:`Reply` from the queue, or :attr:`OpenAIServer.default` when the queue is
empty. A 200 reply without a body answers with :func:`completion` built from
the request (content ``"echo: <last text>"``, the requested model, usage unless
``usage=False``).

The ``openai_server`` fixture (``tests.support.fixtures``) starts one per test.
"""

from __future__ import annotations

import json
import select
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["OpenAIServer", "RecordedRequest", "Reply", "completion", "error_body", "free_port"]


@dataclass(frozen=True)
class Reply:
    """How the server answers one request."""

    status: int = 200
    #: A JSON body; ``None`` means the default completion (200) or an error body.
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (the wait notices a client hanging up).
    delay: float = 0.0
    #: Bytes sent verbatim as an ``application/json`` body (malformed JSON).
    raw: bytes | None = None
    #: Close the connection without answering at all.
    drop: bool = False
    #: Whether the default completion carries ``usage``.
    usage: bool = True
    #: Content of the default completion (else ``"echo: <last text>"``).
    content: str | None = None


@dataclass
class RecordedRequest:
    """What the upstream received."""

    method: str
    path: str
    query: dict[str, str]
    #: Header names lower-cased.
    headers: dict[str, str]
    #: The decoded JSON body (``None`` if it was not JSON).
    body: Any
    raw: bytes
    #: Set when the client hung up while the server was delaying its answer.
    disconnected: threading.Event = field(default_factory=threading.Event)

    @property
    def deployment(self) -> str | None:
        """The Azure deployment named in the path, if any."""
        parts = self.path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "openai" and parts[1] == "deployments":
            return parts[2]
        return None


def error_body(status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    """An error in OpenAI's shape."""
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": None,
            "code": code,
        }
    }


def completion(
    *,
    model: str = "gpt-4o-mini",
    content: str | None = "hello",
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    finish_reason: str = "stop",
    choices: Sequence[Mapping[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` body; ``choices`` replaces the single default choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = list(tool_calls)
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": list(choices)
        if choices is not None
        else [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        body["usage"] = dict(usage)
    return body


def free_port() -> int:
    """A loopback port nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _last_text(body: Any) -> str:
    try:
        content = body["messages"][-1].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's pool expects
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        del format, args  # quiet: pytest shows what matters

    def do_GET(self) -> None:
        self._send(404, json.dumps(error_body(404, "not found")).encode(), {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        url = urlsplit(self.path)
        record = RecordedRequest(
            method="POST",
            path=url.path,
            query={k: v[-1] for k, v in parse_qs(url.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
        )
        owner = self.server.owner
        reply = owner._record(record)
        if not url.path.endswith("/chat/completions"):
            self._send(404, json.dumps(error_body(404, f"no route {url.path}")).encode(), {})
            return
        if reply.delay and not self._wait(reply.delay):
            record.disconnected.set()
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.raw is not None:
            payload = reply.raw
        elif reply.body is not None:
            payload = json.dumps(reply.body).encode()
        elif reply.status == 200:
            payload = json.dumps(self._default_completion(body, reply)).encode()
        else:
            payload = json.dumps(error_body(reply.status, f"scripted {reply.status}")).encode()
        self._send(reply.status, payload, reply.headers)

    def _default_completion(self, body: Any, reply: Reply) -> dict[str, Any]:
        model = body.get("model", "") if isinstance(body, dict) else ""
        text = reply.content if reply.content is not None else f"echo: {_last_text(body)}"
        usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        return completion(model=model, content=text, usage=usage if reply.usage else None)

    def _wait(self, seconds: float) -> bool:
        """Sleep, but return False as soon as the client hangs up."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
        return True

    def _send(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client went away first


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: OpenAIServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class OpenAIServer:
    """The server, its script and its record of requests (thread-safe)."""

    def __init__(self) -> None:
        self.default = Reply()
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._http = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._http.owner = self
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>``: an Azure ``endpoint``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: an OpenAI ``endpoint``."""
        return f"{self.root}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._queue.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests have arrived; return them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests after {timeout}s")
            return list(self._requests)

    def reset(self) -> None:
        """Forget the requests and the script; answer with the default ``Reply()``."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self.default = Reply()

    def _record(self, request: RecordedRequest) -> Reply:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            return self._queue.popleft() if self._queue else self.default

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
