"""The echo provider answers as Dapr's conversation.echo (components-contrib echo.go).

The cases follow echo.go and echo_test.go; the same requests are checked against
the real built-in echo inside daprd by the end-to-end conformance test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from component.conversation import (
    Choice,
    FunctionCall,
    FunctionDefinition,
    Message,
    Output,
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
from component.errors import InvalidRequestError
from component.providers.echo import EchoProvider


def _user(*texts: str) -> Message:
    return Message(Role.HUMAN, tuple(TextPart(t) for t in texts))


def _answer(content: str, *, calls: tuple[ToolCall, ...] | None = None, ctx: str = "") -> Response:
    reason = "tool_calls" if calls else "stop"
    words = len(content.split())
    return Response(
        outputs=(Output(reason, (Choice(reason, 0, ResultMessage(content, calls)),)),),
        context_id=ctx,
        usage=Usage(words, words, 2 * words),
    )


_WEATHER = Tool(
    FunctionDefinition(
        name="get_weather",
        description="weather",
        parameters={
            "type": "object",
            "properties": {"unit": {}, "name": {}, "location": {"type": "string"}},
        },
    )
)


@dataclass
class Case:
    reason: str
    request: Request
    want: Response


CASES = [
    Case("basic input", Request(messages=(_user("hello"),)), _answer("hello")),
    Case("empty text", Request(messages=(_user(""),)), _answer("")),
    Case(
        "parts and messages joined by newlines",
        Request(messages=(_user("first message", "second message"), _user("third message"))),
        _answer("first message\nsecond message\nthird message"),
    ),
    Case(
        "no message list: no outputs, context kept",
        Request(messages=None, context_id="ctx-1"),
        Response(outputs=(), context_id="ctx-1"),
    ),
    Case(
        "empty message list still answers",
        Request(messages=()),
        _answer(""),
    ),
    Case(
        "a tool call per tool, arguments sorted, id is the tool's index",
        Request(messages=(_user("hello echo"),), tools=(_WEATHER,)),
        _answer(
            "hello echo",
            calls=(ToolCall("0", "function", FunctionCall("get_weather", "location,name,unit")),),
        ),
    ),
    Case(
        "tool without properties gives empty arguments",
        Request(
            messages=(_user("x"),),
            tools=(_WEATHER, Tool(FunctionDefinition(name="now", parameters=None))),
        ),
        _answer(
            "x",
            calls=(
                ToolCall("0", "function", FunctionCall("get_weather", "location,name,unit")),
                ToolCall("1", "function", FunctionCall("now", "")),
            ),
        ),
    ),
    Case(
        "tool responses are echoed as text",
        Request(
            messages=(
                _user("hello echo"),
                Message(Role.TOOL, (ToolResult("myid", "myfunc", "Dapr"),)),
            )
        ),
        _answer("hello echo\nTool Response for tool ID 'myid' with name 'myfunc': Dapr"),
    ),
    Case(
        "assistant tool calls in the history come back after the tools' calls",
        Request(
            messages=(
                Message(
                    Role.AI,
                    (TextPart("calling"), ToolCall("c1", "function", FunctionCall("f", "{}"))),
                ),
            ),
            tools=(_WEATHER,),
        ),
        _answer(
            "calling",
            calls=(
                ToolCall("0", "function", FunctionCall("get_weather", "location,name,unit")),
                ToolCall("c1", "function", FunctionCall("f", "{}")),
            ),
        ),
    ),
    Case(
        "empty tool list is no tool call",
        Request(messages=(_user("hi there"),), tools=()),
        _answer("hi there"),
    ),
    Case(
        "context id travels",
        Request(messages=(_user("a b c"),), context_id="chat-9"),
        _answer("a b c", ctx="chat-9"),
    ),
    Case(
        "usage counts words as Go's strings.Fields does",
        Request(messages=(_user("  two\twords\u00a0three \x1c four"),)),
        Response(
            outputs=(
                Output(
                    "stop",
                    (Choice("stop", 0, ResultMessage("  two\twords\u00a0three \x1c four")),),
                ),
            ),
            # U+001C is a word to Go (not unicode.IsSpace) but a separator to str.split().
            usage=Usage(5, 5, 10),
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
async def test_echo_answers_like_dapr_echo(case: Case) -> None:
    assert await EchoProvider().converse(case.request) == case.want


async def test_properties_that_are_not_an_object_fail_like_echo_go() -> None:
    tool = Tool(FunctionDefinition(name="f", parameters={"properties": "oops"}))
    with pytest.raises(InvalidRequestError) as info:
        await EchoProvider().converse(Request(messages=(), tools=(tool,)))
    assert str(info.value) == "tool function properties must be a map[string]any, got string"
