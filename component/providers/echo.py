"""The offline ``echo`` provider: answers exactly as Dapr's ``conversation.echo``.

Ported behaviour (dapr/components-contrib ``conversation/echo/echo.go``):

* no message list at all: no outputs, only the context id;
* otherwise one output whose content is every text part and every tool
  response (``Tool Response for tool ID '<id>' with name '<name>': <content>``)
  joined by newlines;
* one tool call per declared tool (id = the tool's index, arguments = its
  parameter names sorted and joined by commas), then every tool call found in
  the messages; any tool call makes the finish reason ``tool_calls``;
* usage counts whitespace-separated words of the answer, for prompt and
  completion alike.

One setting of its own, ``echoDelay`` (a Go duration), makes every answer wait
that long: an offline stand-in for a slow model in timeout, shutdown and load
tests. It defaults to none, answering at once as Dapr's echo does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

from component.conversation import (
    Choice,
    FunctionCall,
    JSONValue,
    Output,
    Request,
    Response,
    ResultMessage,
    TextPart,
    ToolCall,
    ToolResult,
    Usage,
)
from component.errors import InvalidRequestError
from component.provider import Provider
from component.resources import ProcessResources
from component.settings import Properties

__all__ = ["EchoProvider"]

# Go's unicode.IsSpace, which strings.Fields splits on (str.split() also splits
# on U+001C..U+001F, which Go does not).
_GO_SPACE = re.compile(
    "[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)


class EchoProvider(Provider):
    """Echo the request back; needs no network."""

    name = "echo"

    def __init__(self, *, delay: float = 0.0) -> None:
        self._delay = delay

    @classmethod
    def from_properties(cls, properties: Properties, resources: ProcessResources) -> EchoProvider:
        del resources  # echo needs no shared resources
        delay = properties.duration("echoDelay")
        return cls(delay=delay.total_seconds() if delay else 0.0)

    async def converse(self, request: Request) -> Response:
        if self._delay:
            await asyncio.sleep(self._delay)
        if request.messages is None:
            return Response(outputs=(), context_id=request.context_id)

        tool_calls: list[ToolCall] = []
        for index, tool in enumerate(request.tools or ()):
            tool_calls.append(
                ToolCall(
                    id=str(index),
                    type=tool.type,
                    function=FunctionCall(
                        name=tool.function.name,
                        arguments=",".join(_argument_names(tool.function.parameters)),
                    ),
                )
            )

        texts: list[str] = []
        for message in request.messages:
            for part in message.parts:
                if isinstance(part, TextPart):
                    texts.append(part.text)
                elif isinstance(part, ToolCall):
                    tool_calls.append(part)
                elif isinstance(part, ToolResult):
                    texts.append(
                        f"Tool Response for tool ID '{part.tool_call_id}' "
                        f"with name '{part.name}': {part.content}"
                    )

        content = "\n".join(texts)
        reason = "tool_calls" if tool_calls else "stop"
        choice = Choice(
            finish_reason=reason,
            index=0,
            message=ResultMessage(content=content, tool_calls=tuple(tool_calls) or None),
        )
        words = len([word for word in _GO_SPACE.split(content) if word])
        return Response(
            outputs=(Output(stop_reason=reason, choices=(choice,)),),
            context_id=request.context_id,
            usage=Usage(prompt_tokens=words, completion_tokens=words, total_tokens=2 * words),
        )


def _argument_names(parameters: Mapping[str, JSONValue] | None) -> list[str]:
    if not parameters or "properties" not in parameters:
        return []
    properties = parameters["properties"]
    if not isinstance(properties, Mapping):
        # The same words as echo.go, so errors read alike through daprd.
        raise InvalidRequestError(
            f"tool function properties must be a map[string]any, got {_go_type(properties)}"
        )
    return sorted(properties)


def _go_type(value: JSONValue) -> str:
    """The name Go's %T prints for a JSON-decoded value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__
