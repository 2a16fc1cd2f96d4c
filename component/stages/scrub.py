"""The PII scrubber: the provider never sees what it replaces.

Input side (before the provider): the text parts of every message, whatever its
role, the arguments of tool calls in the history and the content of tool results.
Output side (after): each choice's content and tool-call arguments. Tool-call
arguments that are JSON are scrubbed value by value (string and integer values;
keys stay) and re-encoded, so they stay valid JSON; other arguments as text.

Which sides are scrubbed is the component's ``scrubPII`` (a floor) joined with
what the request asks for in its metadata (``scrubPII``: none, input, output,
both): a request can add a side, never remove one. daprd's own per-input
``scrubPii`` flag is applied by daprd before the request reaches pyllm.

With ``piiMode: pseudonymize`` and ``piiRestore: true`` the placeholders the
input received are put back into the answer (after output scrubbing, which
gives values the model produced placeholders of their own, never restored).

If scrubbing cannot run, the request fails (:class:`PiiEngineError`): nothing is
sent on unscrubbed. Values never reach a log line or a metric label; the
``pyllm_pii_entities`` metric counts findings by kind and direction.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable

from component.conversation import (
    Choice,
    FunctionCall,
    JSONValue,
    Message,
    Output,
    Request,
    Response,
    TextPart,
    ToolCall,
    ToolResult,
)
from component.metrics import Metrics
from component.pii.engine import PiiEngine
from component.pii.replace import Replacer
from component.pii.settings import PiiMode, PiiSettings, Scope, read_pii_settings, requested_scope
from component.provider import Provider
from component.resources import ProcessResources
from component.settings import Properties

__all__ = ["PiiScrubber"]

log = logging.getLogger(__name__)

#: Maps one string to its replacement; the walks below call it in document order.
_Edit = Callable[[str], str]


class PiiScrubber(Provider):
    """Scrubs PII from what goes to ``inner`` and from what comes back."""

    def __init__(
        self,
        inner: Provider,
        *,
        settings: PiiSettings,
        engine: PiiEngine,
        metrics: Metrics,
        instance: str = "",
    ) -> None:
        self._inner = inner
        self._settings = settings
        self._engine = engine
        self._metrics = metrics
        self._instance = instance
        self.features = inner.features

    @classmethod
    def wrap(
        cls, inner: Provider, *, instance: str, properties: Properties, resources: ProcessResources
    ) -> PiiScrubber:
        """Always installed: even with ``scrubPII: none`` a request may ask for scrubbing."""
        settings = read_pii_settings(properties)
        if settings.floor is not Scope.NONE or settings.spec.model or settings.spec.patterns:
            # Build now, so Init reports a broken model and the first request is not slow.
            resources.pii.prepare(settings.spec)
        return cls(
            inner,
            settings=settings,
            engine=resources.pii,
            metrics=resources.metrics,
            instance=instance,
        )

    def identity(self, request: Request) -> dict[str, str]:
        scope = self._settings.floor | requested_scope(request.metadata)
        identity = dict(self._inner.identity(request))
        if scope is not Scope.NONE:
            s = self._settings
            identity["pii"] = f"{scope.name}:{s.mode.value}:{'restore' if s.restore else ''}"
        return identity

    async def converse(self, request: Request) -> Response:
        scope = self._settings.floor | requested_scope(request.metadata)
        if scope is Scope.NONE:
            return await self._inner.converse(request)
        replacer = Replacer(
            self._settings.mode, reserved=Replacer.placeholders_in(_request_strings(request))
        )
        if Scope.INPUT in scope:
            request = await self._scrub_request(request, replacer)
        replacer.seal()
        response = await self._inner.converse(request)
        if Scope.OUTPUT in scope:
            response = await self._scrub_response(response, replacer)
        if self._settings.restore and self._settings.mode is PiiMode.PSEUDONYMIZE:
            response = _map_response(response, replacer.restore)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def _scrub_request(self, request: Request, replacer: Replacer) -> Request:
        edit = await self._edit_for(_request_strings(request), replacer, "input")
        return _map_request(request, edit)

    async def _scrub_response(self, response: Response, replacer: Replacer) -> Response:
        edit = await self._edit_for(_response_strings(response), replacer, "output")
        return _map_response(response, edit)

    async def _edit_for(self, texts: list[str], replacer: Replacer, direction: str) -> _Edit:
        """Analyse ``texts`` in one call; return an edit that replays their replacements."""
        s = self._settings
        findings = await self._engine.find(s.spec, s.options, texts)
        replaced = iter([replacer.replace(t, f) for t, f in zip(texts, findings, strict=True)])
        kinds = Counter(f.kind for found in findings for f in found)
        for kind, count in kinds.items():
            self._metrics.pii_entities.labels(kind, direction).inc(count)
        if kinds:
            log.debug(
                "instance %r: replaced %s in the %s",
                self._instance,
                ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
                direction,
            )
        return lambda _original: next(replaced)


# --- walking requests and responses ------------------------------------------------
#
# Collecting strings and rebuilding visit the same strings in the same order: the
# collection is the rebuild with an edit that records and changes nothing.


def _collect(walk: Callable[[_Edit], object]) -> list[str]:
    seen: list[str] = []

    def record(text: str) -> str:
        seen.append(text)
        return text

    walk(record)
    return seen


def _request_strings(request: Request) -> list[str]:
    return _collect(lambda edit: _map_request(request, edit))


def _response_strings(response: Response) -> list[str]:
    return _collect(lambda edit: _map_response(response, edit))


def _map_request(request: Request, edit: _Edit) -> Request:
    if request.messages is None:
        return request
    messages = tuple(
        Message(role=m.role, parts=tuple(_map_part(part, edit) for part in m.parts))
        for m in request.messages
    )
    return dataclasses.replace(request, messages=messages)


def _map_part(
    part: TextPart | ToolCall | ToolResult, edit: _Edit
) -> TextPart | ToolCall | ToolResult:
    if isinstance(part, TextPart):
        return TextPart(edit(part.text))
    if isinstance(part, ToolCall):
        return _map_call(part, edit)
    return dataclasses.replace(part, content=edit(part.content))


def _map_call(call: ToolCall, edit: _Edit) -> ToolCall:
    arguments = _map_arguments(call.function.arguments, edit)
    return dataclasses.replace(call, function=FunctionCall(call.function.name, arguments))


def _map_response(response: Response, edit: _Edit) -> Response:
    outputs = tuple(
        Output(
            stop_reason=output.stop_reason,
            choices=tuple(_map_choice(choice, edit) for choice in output.choices),
        )
        for output in response.outputs
    )
    return dataclasses.replace(response, outputs=outputs)


def _map_choice(choice: Choice, edit: _Edit) -> Choice:
    message = choice.message
    calls = message.tool_calls
    return dataclasses.replace(
        choice,
        message=dataclasses.replace(
            message,
            content=edit(message.content),
            tool_calls=None if calls is None else tuple(_map_call(c, edit) for c in calls),
        ),
    )


def _map_arguments(arguments: str, edit: _Edit) -> str:
    """JSON arguments value by value (staying valid JSON); anything else as text."""
    try:
        decoded = json.loads(arguments)
    except ValueError:
        return edit(arguments)
    if not isinstance(decoded, dict | list | str):
        return edit(arguments)
    changed = False

    def visit(value: JSONValue) -> JSONValue:
        nonlocal changed
        if isinstance(value, dict):
            return {key: visit(item) for key, item in value.items()}
        if isinstance(value, list):
            return [visit(item) for item in value]
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            text = str(value)
            new = edit(text)
            if new != text:
                changed = True
                return new
        return value

    result = visit(decoded)
    return json.dumps(result, ensure_ascii=False) if changed else arguments
