"""A cached answer as JSON: the domain :class:`Response`, never a pickle.

Writing goes through :func:`dataclasses.asdict`; reading rebuilds each frozen
dataclass field by field, so a stored entry can only ever become a Response.
Anything that does not fit raises :class:`ValueError` (the cache then treats
the entry as absent).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from component.conversation import (
    Choice,
    CompletionTokensDetails,
    FunctionCall,
    Output,
    PromptTokensDetails,
    Response,
    ResultMessage,
    ToolCall,
    Usage,
)

__all__ = ["Answer", "decode_answer", "encode_answer"]

_FORMAT = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A response as the cache keeps it.

    ``context_echoed`` records that the provider answered with the request's
    own context id; such an answer is handed to a later caller with that
    caller's context id, not the first one's.
    """

    response: Response
    context_echoed: bool = False

    @classmethod
    def of(cls, response: Response, context_id: str) -> Answer:
        if response.context_id == context_id:
            return cls(dataclasses.replace(response, context_id=""), context_echoed=True)
        return cls(response)

    def for_caller(self, context_id: str) -> Response:
        if self.context_echoed:
            return dataclasses.replace(self.response, context_id=context_id)
        return self.response


def encode_answer(answer: Answer) -> bytes:
    document = {
        "format": _FORMAT,
        "context_echoed": answer.context_echoed,
        "response": dataclasses.asdict(answer.response),
    }
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def decode_answer(data: bytes) -> Answer:
    """Rebuild an answer; raise ValueError when ``data`` is not one of ours."""
    try:
        document = json.loads(data)
        if document["format"] != _FORMAT:
            raise ValueError(f"entry format {document['format']!r} is not {_FORMAT}")
        return Answer(_response(document["response"]), bool(document["context_echoed"]))
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a cached answer: {type(exc).__name__}") from exc


def _response(doc: Mapping[str, Any]) -> Response:
    usage = doc["usage"]
    return Response(
        outputs=tuple(_output(output) for output in doc["outputs"]),
        model=_str(doc["model"]),
        context_id=_str(doc["context_id"]),
        usage=None if usage is None else _usage(usage),
    )


def _output(doc: Mapping[str, Any]) -> Output:
    return Output(
        stop_reason=_str(doc["stop_reason"]),
        choices=tuple(_choice(choice) for choice in doc["choices"]),
    )


def _choice(doc: Mapping[str, Any]) -> Choice:
    message = doc["message"]
    calls = message["tool_calls"]
    return Choice(
        finish_reason=_str(doc["finish_reason"]),
        index=_int(doc["index"]),
        message=ResultMessage(
            content=_str(message["content"]),
            tool_calls=None if calls is None else tuple(_tool_call(call) for call in calls),
        ),
    )


def _tool_call(doc: Mapping[str, Any]) -> ToolCall:
    function = doc["function"]
    return ToolCall(
        id=_str(doc["id"]),
        type=_str(doc["type"]),
        function=FunctionCall(name=_str(function["name"]), arguments=_str(function["arguments"])),
    )


def _usage(doc: Mapping[str, Any]) -> Usage:
    prompt, completion = doc["prompt_details"], doc["completion_details"]
    return Usage(
        prompt_tokens=_int(doc["prompt_tokens"]),
        completion_tokens=_int(doc["completion_tokens"]),
        total_tokens=_int(doc["total_tokens"]),
        prompt_details=None if prompt is None else PromptTokensDetails(**_ints(prompt)),
        completion_details=(
            None if completion is None else CompletionTokensDetails(**_ints(completion))
        ),
    )


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected a whole number")
    return value


def _ints(doc: Mapping[str, Any]) -> dict[str, int]:
    return {str(key): _int(value) for key, value in doc.items()}
