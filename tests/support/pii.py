"""Helpers of the PII tests: one engine per test session and a recording provider.

Building an analyzer imports Presidio and spaCy (seconds), so every PII test
module shares :func:`shared_engine`, started once, in-process (no workers).
:class:`RecordingProvider` is a fake of our own :class:`Provider` interface: it
keeps every request it receives and answers what the test scripts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from component.conversation import (
    Choice,
    Output,
    Request,
    Response,
    ResultMessage,
    TextPart,
    ToolCall,
    ToolResult,
)
from component.pii.engine import PiiEngine
from component.provider import Provider

__all__ = ["RecordingProvider", "all_strings", "answer", "shared_engine"]


@functools.lru_cache(maxsize=1)
def shared_engine() -> PiiEngine:
    """A started engine (default analyzer built), shared by the whole session."""
    engine = PiiEngine()
    engine.start(workers=0)
    return engine


def answer(content: str = "", tool_calls: tuple[ToolCall, ...] | None = None) -> Response:
    reason = "tool_calls" if tool_calls else "stop"
    return Response(
        outputs=(
            Output(
                stop_reason=reason,
                choices=(Choice(reason, 0, ResultMessage(content, tool_calls)),),
            ),
        ),
    )


def all_strings(request: Request) -> list[str]:
    """Every string of the request a provider could send upstream."""
    found: list[str] = []
    for message in request.messages or ():
        for part in message.parts:
            if isinstance(part, TextPart):
                found.append(part.text)
            elif isinstance(part, ToolCall):
                found.extend((part.function.name, part.function.arguments))
            elif isinstance(part, ToolResult):
                found.extend((part.name, part.content))
    return found


class RecordingProvider(Provider):
    """Records requests; answers ``reply`` (or ``reply(request)``; default: empty)."""

    def __init__(self, reply: Response | Callable[[Request], Response] | None = None) -> None:
        self.requests: list[Request] = []
        self._reply = reply if reply is not None else answer()

    async def converse(self, request: Request) -> Response:
        self.requests.append(request)
        return self._reply if isinstance(self._reply, Response) else self._reply(request)
