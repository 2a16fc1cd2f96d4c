"""The domain request as a chat-completions body, and the completion back.

Roles map as langchaingo's OpenAI client maps them for Dapr (human and generic
→ ``user``, ai → ``assistant``), plus ``developer`` and ``function`` as the API
names them. One text part is sent as a string and several as a list of text
parts. Each tool result becomes its own ``tool`` message (the API wants one per
``tool_call_id``). A response format is a JSON schema (optionally with ``name``,
``description`` and ``strict`` beside its keywords, as Dapr reads it) sent as a
``json_schema`` structured output; a format already in the API's shape (``type``
``json_schema``, ``json_object`` or ``text``) is sent as it is.

Back from the API, each choice becomes one output, as Dapr's langchaingo kit
does; a missing finish reason reads ``unknown``; a refusal with no content is the
content; usage keeps every detail the API returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage

from component.conversation import (
    Choice,
    CompletionTokensDetails,
    FunctionCall,
    JSONValue,
    Message,
    Output,
    PromptTokensDetails,
    Request,
    Response,
    ResultMessage,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
)
from component.errors import InvalidRequestError, UpstreamUnavailableError

__all__ = ["chat_body", "from_completion"]

_ROLES = {
    Role.SYSTEM: "system",
    Role.DEVELOPER: "developer",
    Role.HUMAN: "user",
    Role.GENERIC: "user",
    Role.AI: "assistant",
    Role.FUNCTION: "function",
    Role.TOOL: "tool",
}
_API_FORMATS = frozenset({"json_schema", "json_object", "text"})
_SCHEMA_EXTRAS = ("name", "strict")
# OpenAI keeps an in-memory prompt cache for up to an hour; longer asks for 24h.
_IN_MEMORY_LIMIT = timedelta(hours=1)


def chat_body(
    request: Request, *, model: str, parameters: Mapping[str, JSONValue]
) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for ``request``."""
    if not request.messages:
        raise InvalidRequestError("the request has no messages: send at least one")
    body: dict[str, Any] = {"model": model, "messages": _messages(request.messages)}
    if request.tools:
        body["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(request.tools)]
    choice = _tool_choice(request.tool_choice, request.tools or ())
    if choice is not None:
        body["tool_choice"] = choice
    # Dapr sends a temperature only when it is above zero (0 means "not set").
    if request.temperature > 0:
        body["temperature"] = request.temperature
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if request.prompt_cache_retention is not None:
        body["prompt_cache_retention"] = (
            "24h" if request.prompt_cache_retention > _IN_MEMORY_LIMIT else "in_memory"
        )
    body.update(parameters)  # explicit parameters win over the fields above
    return body


def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        out.extend(_message(message, f"messages[{i}]"))
    return out


def _message(message: Message, where: str) -> list[dict[str, Any]]:
    role = _ROLES[message.role]
    texts = [part.text for part in message.parts if isinstance(part, TextPart)]
    calls = [part for part in message.parts if isinstance(part, ToolCall)]
    results = [part for part in message.parts if isinstance(part, ToolResult)]
    if calls and role != "assistant":
        raise InvalidRequestError(f"{where}: tool calls belong in an ai message, not {role}")

    if role == "function":
        if len(results) != 1 or texts:
            raise InvalidRequestError(
                f"{where}: a function message needs exactly one tool_call_response part "
                "(its name and content)"
            )
        return [{"role": "function", "name": results[0].name, "content": results[0].content}]

    out: list[dict[str, Any]] = []
    if role == "tool" and texts and not results:
        raise InvalidRequestError(
            f"{where}: a tool message needs a tool_call_response part naming its tool_call_id"
        )
    if role == "assistant" and (texts or calls):
        entry: dict[str, Any] = {"role": "assistant"}
        if texts or not calls:
            entry["content"] = _content(texts)
        if calls:
            entry["tool_calls"] = [_call(call) for call in calls]
        out.append(entry)
    elif role != "tool" and (texts or not results):
        out.append({"role": role, "content": _content(texts)})
    out.extend(
        {"role": "tool", "tool_call_id": result.tool_call_id, "content": result.content}
        for result in results
    )
    return out


def _content(texts: Sequence[str]) -> str | list[dict[str, str]]:
    if len(texts) == 1:
        return texts[0]
    if not texts:
        return ""
    return [{"type": "text", "text": text} for text in texts]


def _call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": call.type or "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
    }


def _tool(tool: Tool, where: str) -> dict[str, Any]:
    if tool.type not in ("", "function"):
        raise InvalidRequestError(f"{where}.type {tool.type!r} is not supported: use function")
    fn = tool.function
    function: dict[str, Any] = {"name": fn.name}
    if fn.description:
        function["description"] = fn.description
    if fn.parameters is not None:
        function["parameters"] = dict(fn.parameters)
    if fn.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: str | None, tools: Sequence[Tool]) -> str | dict[str, Any] | None:
    if not choice:
        return None
    if not tools:
        if choice in ("auto", "none"):
            return None  # the API refuses any tool_choice without tools; these mean no call
        raise InvalidRequestError(f"tool_choice {choice!r} needs tools, and the request has none")
    if choice in ("auto", "none", "required"):
        return choice
    names = [tool.function.name for tool in tools]
    if choice not in names:
        raise InvalidRequestError(
            f"tool_choice {choice!r} is not auto, none, required or a tool of the request "
            f"({', '.join(names)})"
        )
    return {"type": "function", "function": {"name": choice}}


def _response_format(fmt: Mapping[str, JSONValue]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind in _API_FORMATS:
        return dict(fmt)
    if not isinstance(kind, str):
        raise InvalidRequestError(
            "response_format must be a JSON schema with a string 'type' (such as object), or "
            "an API response format whose type is json_schema, json_object or text"
        )
    name = fmt.get("name")
    strict = fmt.get("strict")
    definition: dict[str, Any] = {
        "name": name if isinstance(name, str) and name else "response",
        "schema": {key: value for key, value in fmt.items() if key not in _SCHEMA_EXTRAS},
    }
    if isinstance(fmt.get("description"), str):
        definition["description"] = fmt["description"]
    if isinstance(strict, bool):
        definition["strict"] = strict
    return {"type": "json_schema", "json_schema": definition}


# --- back from the API ---------------------------------------------------------


def from_completion(completion: object, *, request: Request, model: str) -> Response:
    """The domain response; a body that is no chat completion is UNAVAILABLE."""
    if not isinstance(completion, ChatCompletion) or not isinstance(completion.choices, list):
        raise UpstreamUnavailableError(
            "the upstream answered with something that is not a chat completion"
        )
    outputs: list[Output] = []
    for choice in sorted(completion.choices, key=lambda c: c.index or 0):
        message = choice.message
        if message is None:
            raise UpstreamUnavailableError("the upstream answered a choice without a message")
        reason = choice.finish_reason or "unknown"
        content = message.content or message.refusal or ""
        outputs.append(
            Output(
                stop_reason=reason,
                choices=(
                    Choice(
                        finish_reason=reason,
                        index=choice.index or 0,
                        message=ResultMessage(content=content, tool_calls=_calls_of(message)),
                    ),
                ),
            )
        )
    return Response(
        outputs=tuple(outputs),
        model=completion.model or model,
        context_id=request.context_id,
        usage=_usage(completion.usage),
    )


def _calls_of(message: Any) -> tuple[ToolCall, ...] | None:
    calls: list[ToolCall] = []
    for call in message.tool_calls or ():
        if call.type == "custom":
            calls.append(
                ToolCall(call.id, "custom", FunctionCall(call.custom.name, call.custom.input))
            )
        else:
            fn = call.function
            calls.append(
                ToolCall(call.id, call.type or "function", FunctionCall(fn.name, fn.arguments))
            )
    if message.function_call is not None:  # the deprecated single function call
        fn = message.function_call
        calls.append(ToolCall("", "function", FunctionCall(fn.name, fn.arguments)))
    return tuple(calls) or None


def _usage(usage: CompletionUsage | None) -> Usage | None:
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        prompt_details=None
        if prompt is None
        else PromptTokensDetails(
            cached_tokens=prompt.cached_tokens or 0, audio_tokens=prompt.audio_tokens or 0
        ),
        completion_details=None
        if completion is None
        else CompletionTokensDetails(
            reasoning_tokens=completion.reasoning_tokens or 0,
            audio_tokens=completion.audio_tokens or 0,
            accepted_prediction_tokens=completion.accepted_prediction_tokens or 0,
            rejected_prediction_tokens=completion.rejected_prediction_tokens or 0,
        ),
    )
