"""Chat-completions parameters a request may set, typed and validated.

daprd v1.18 drops the contract's ``parameters`` (dapr/dapr issue 10317), so the
same parameters are also read from the request metadata, where every value is a
string (``max_tokens: "256"``, ``stop: '["\\n\\n", "END"]'``). Both sources go
through one table, so a value means the same wherever it comes from; a key given
in both must agree. A bad value names the key and what it accepts.

Metadata keys that are not parameters are left alone (they may be overrides or
options of other stages); an unknown key in ``parameters`` is refused, since
``parameters`` exist only for the provider.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from component.conversation import JSONValue
from component.errors import InvalidRequestError

__all__ = ["PARAMETERS", "provider_parameters"]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class _RejectedError(ValueError):
    """A value a parameter does not accept."""


@dataclass(frozen=True, slots=True)
class _Parameter:
    #: What a valid value looks like, for error messages.
    accepts: str
    parse: Callable[[JSONValue], JSONValue]


def _integer(low: int | None = None, high: int | None = None) -> _Parameter:
    bounds = _bounds(low, high)

    def parse(value: JSONValue) -> JSONValue:
        if isinstance(value, bool):
            raise _RejectedError
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError as exc:
                raise _RejectedError from exc
        if not isinstance(value, int):
            raise _RejectedError
        if (low is not None and value < low) or (high is not None and value > high):
            raise _RejectedError
        return value

    return _Parameter(f"a whole number{bounds}", parse)


def _number(low: float, high: float) -> _Parameter:
    def parse(value: JSONValue) -> JSONValue:
        if isinstance(value, bool):
            raise _RejectedError
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError as exc:
                raise _RejectedError from exc
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise _RejectedError
        if not low <= value <= high:
            raise _RejectedError
        return float(value)

    return _Parameter(f"a number{_bounds(low, high)}", parse)


def _boolean() -> _Parameter:
    def parse(value: JSONValue) -> JSONValue:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _RejectedError

    return _Parameter("true or false", parse)


def _string() -> _Parameter:
    def parse(value: JSONValue) -> JSONValue:
        if not isinstance(value, str) or not value:
            raise _RejectedError
        return value

    return _Parameter("a non-empty string", parse)


def _choice(*options: str) -> _Parameter:
    def parse(value: JSONValue) -> JSONValue:
        if isinstance(value, str) and value.strip().lower() in options:
            return value.strip().lower()
        raise _RejectedError

    return _Parameter(f"one of {', '.join(options)}", parse)


def _stop() -> _Parameter:
    def parse(value: JSONValue) -> JSONValue:
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise _RejectedError from exc
        if isinstance(value, str) and value:
            return value
        if (
            isinstance(value, list)
            and 1 <= len(value) <= 4
            and all(isinstance(item, str) and item for item in value)
        ):
            return list(value)
        raise _RejectedError

    return _Parameter("a string, or a JSON list of 1 to 4 strings", parse)


def _logit_bias() -> _Parameter:
    def parse(value: JSONValue) -> JSONValue:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise _RejectedError from exc
        if not isinstance(value, Mapping):
            raise _RejectedError
        out: dict[str, int] = {}
        for token, bias in value.items():
            if not str(token).isdigit() or isinstance(bias, bool):
                raise _RejectedError
            if not isinstance(bias, int | float) or not float(bias).is_integer():
                raise _RejectedError
            if not -100 <= bias <= 100:
                raise _RejectedError
            out[str(token)] = int(bias)
        return out

    return _Parameter(
        'a JSON object of token ids to whole numbers from -100 to 100, e.g. {"50256": -100}',
        parse,
    )


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    return ""


#: Every parameter, by its chat-completions name.
PARAMETERS: Mapping[str, _Parameter] = {
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "seed": _integer(),
    "stop": _stop(),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "user": _string(),
    "reasoning_effort": _choice("none", "minimal", "low", "medium", "high", "xhigh"),
    "n": _integer(1, 128),
    "logit_bias": _logit_bias(),
    "logprobs": _boolean(),
    "top_logprobs": _integer(0, 20),
    "parallel_tool_calls": _boolean(),
    "service_tier": _choice("auto", "default", "flex", "scale", "priority"),
    "verbosity": _choice("low", "medium", "high"),
    "store": _boolean(),
    "prompt_cache_key": _string(),
    "prompt_cache_retention": _choice("in_memory", "24h"),
    "safety_identifier": _string(),
}


def provider_parameters(
    metadata: Mapping[str, str], parameters: Mapping[str, JSONValue]
) -> dict[str, JSONValue]:
    """The chat-completions parameters the request sets, validated.

    Keys match case-insensitively. Raises :class:`InvalidRequestError` naming the
    key and what it accepts.
    """
    chosen: dict[str, JSONValue] = {}
    for key, value in metadata.items():
        name = key.lower()
        if name in PARAMETERS:
            chosen[name] = _parse(f"request metadata {key!r}", name, value)
    for key, value in parameters.items():
        name = key.lower()
        if name not in PARAMETERS:
            raise InvalidRequestError(
                f"parameters[{key!r}] is not a parameter the openai provider accepts: use "
                f"one of {', '.join(sorted(PARAMETERS))}"
            )
        parsed = _parse(f"parameters[{key!r}]", name, value)
        if name in chosen and chosen[name] != parsed:
            raise InvalidRequestError(
                f"{name!r} is given twice with different values, in request metadata and in "
                "parameters: give it once"
            )
        chosen[name] = parsed
    return chosen


def _parse(where: str, name: str, value: JSONValue) -> JSONValue:
    parameter = PARAMETERS[name]
    try:
        return parameter.parse(value)
    except _RejectedError:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise InvalidRequestError(f"{where}: {shown} is not {parameter.accepts}") from None
