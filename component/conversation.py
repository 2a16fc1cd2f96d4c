"""The conversation domain: plain values for a request and its response.

These mirror dapr/components-contrib's ``conversation.Request`` and
``conversation.Response`` (with langchaingo's message types) and never see
protobuf. Where daprd distinguishes "not given" from "empty" (a nil slice
against an empty one) the field is ``None`` versus an empty tuple.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeAlias

__all__ = [
    "Choice",
    "CompletionTokensDetails",
    "FunctionCall",
    "FunctionDefinition",
    "JSONValue",
    "Message",
    "Output",
    "Part",
    "PromptTokensDetails",
    "Request",
    "Response",
    "ResultMessage",
    "Role",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Usage",
]

#: A value decoded from JSON (or a protobuf Struct / Value / wrapper).
JSONValue: TypeAlias = Any


class Role(enum.Enum):
    """A message's role, named as langchaingo's ``llms.ChatMessageType``."""

    HUMAN = "human"
    SYSTEM = "system"
    AI = "ai"
    TOOL = "tool"
    FUNCTION = "function"
    GENERIC = "generic"
    DEVELOPER = "developer"


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks the caller to make (always of a function)."""

    id: str
    type: str
    function: FunctionCall


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned, sent back to the model."""

    tool_call_id: str
    name: str
    content: str


Part: TypeAlias = TextPart | ToolCall | ToolResult


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class FunctionDefinition:
    name: str
    description: str = ""
    #: The JSON schema of the arguments; ``None`` when the tool declares none.
    parameters: Mapping[str, JSONValue] | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class Tool:
    function: FunctionDefinition
    type: str = "function"


@dataclass(frozen=True, slots=True)
class Request:
    """One converse call, as daprd hands it to a conversation component."""

    #: ``None`` when daprd passed no message list at all.
    messages: tuple[Message, ...] | None
    tools: tuple[Tool, ...] | None = None
    tool_choice: str | None = None
    temperature: float = 0.0
    #: Per-request metadata (overrides and options), not the component's.
    metadata: Mapping[str, str] = field(default_factory=dict)
    response_format: Mapping[str, JSONValue] | None = None
    prompt_cache_retention: timedelta | None = None
    #: Provider parameters, decoded to plain values.
    parameters: Mapping[str, JSONValue] = field(default_factory=dict)
    context_id: str = ""
    #: When the caller stops waiting, on the ``time.monotonic()`` clock; ``None``
    #: when the call has no deadline. Not part of what the request asks.
    deadline: float | None = None
    #: W3C trace context headers (``traceparent``, ``tracestate``) for the
    #: upstream call. Not part of what the request asks.
    trace_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PromptTokensDetails:
    cached_tokens: int = 0
    audio_tokens: int = 0


@dataclass(frozen=True, slots=True)
class CompletionTokensDetails:
    reasoning_tokens: int = 0
    audio_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_details: PromptTokensDetails | None = None
    completion_details: CompletionTokensDetails | None = None


@dataclass(frozen=True, slots=True)
class ResultMessage:
    content: str = ""
    #: ``None`` when the model asked for no tool call.
    tool_calls: tuple[ToolCall, ...] | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    finish_reason: str
    index: int
    message: ResultMessage


@dataclass(frozen=True, slots=True)
class Output:
    stop_reason: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True, slots=True)
class Response:
    outputs: tuple[Output, ...]
    model: str = ""
    context_id: str = ""
    usage: Usage | None = None
