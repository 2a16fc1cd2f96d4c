"""Usage accounting: the input-token guard and token counts the upstream omits.

Many OpenAI-compatible servers answer without ``usage``. This stage then counts
prompt and completion tokens with the model's tiktoken encoding (or the one the
``encoding`` setting names) and fills them in; the ``pyllm_tokens`` metric says
which counts came from the upstream (``source="upstream"``) and which pyllm
counted (``source="tiktoken"``). Without the encoding file offline, usage stays
absent rather than guessed.

``maxInputTokens`` refuses a prompt over the limit before any upstream call. A
guard that cannot count must not wave requests through: ``Init`` fails when the
configured model's encoding is not available, and a request whose model needs
an unavailable encoding is refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

import tiktoken

from component.conversation import Request, Response, TextPart, Usage
from component.errors import InvalidRequestError, InvalidSettingError
from component.metrics import Metrics
from component.provider import Provider
from component.resources import ProcessResources
from component.settings import Properties
from component.tokens import (
    TokenEncodings,
    count_completion_tokens,
    count_prompt_tokens,
    encoding_for_model,
)

__all__ = ["UsageAccounting"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# Prompts longer than this (in characters) are tokenised off the event loop.
_LARGE_PROMPT = 32_000


class UsageAccounting(Provider):
    """Wraps a provider: guards input size, completes and counts usage."""

    def __init__(
        self,
        inner: Provider,
        *,
        instance: str,
        encodings: TokenEncodings,
        metrics: Metrics,
        encoding: str = "",
        max_input_tokens: int = 0,
    ) -> None:
        self._inner = inner
        self._instance = instance
        self._encodings = encodings
        self._metrics = metrics
        self._encoding = encoding
        self._max_input_tokens = max_input_tokens
        self.features = inner.features

    @classmethod
    def from_properties(
        cls,
        inner: Provider,
        properties: Properties,
        resources: ProcessResources,
        *,
        instance: str,
    ) -> UsageAccounting:
        encodings = resources.encodings
        stage = cls(
            inner,
            instance=instance,
            encodings=encodings,
            metrics=resources.metrics,
            encoding=properties.choice("encoding", encodings.names(), ""),
            max_input_tokens=properties.integer("maxInputTokens", 0, minimum=0),
        )
        if stage._max_input_tokens:
            model = inner.identity(Request(messages=())).get("model", "")
            name = stage._encoding_name(model)
            problem = encodings.problem(name)
            if problem is not None:
                raise InvalidSettingError(
                    "maxInputTokens",
                    f"cannot be enforced: tiktoken encoding {name} (for model {model!r}) is not "
                    f"available offline: {problem}; put the file in TIKTOKEN_CACHE_DIR or remove "
                    "maxInputTokens",
                )
        return stage

    def identity(self, request: Request) -> Mapping[str, str]:
        return self._inner.identity(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def converse(self, request: Request) -> Response:
        model = self._inner.identity(request).get("model", "")
        name = self._encoding_name(model)
        prompt_tokens: int | None = None
        if self._max_input_tokens:
            encoding = await self._encodings.aget(name)
            if encoding is None:
                raise InvalidRequestError(
                    f"cannot count the prompt's tokens to enforce maxInputTokens: tiktoken "
                    f"encoding {name} (for model {model!r}) is not available offline"
                )
            prompt_tokens = await _tokenise(count_prompt_tokens, encoding, request)
            if prompt_tokens > self._max_input_tokens:
                raise InvalidRequestError(
                    f"the prompt has {prompt_tokens} tokens (counted with {name}), over "
                    f"maxInputTokens {self._max_input_tokens}: shorten it"
                )

        response = await self._inner.converse(request)
        source = "upstream"
        if response.usage is None and response.outputs:
            encoding = await self._encodings.aget(name)
            if encoding is not None:
                if prompt_tokens is None:
                    prompt_tokens = await _tokenise(count_prompt_tokens, encoding, request)
                completion_tokens = count_completion_tokens(encoding, response)
                usage = Usage(
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens,
                )
                response = dataclasses.replace(response, usage=usage)
                source = "tiktoken"
                log.debug("usage counted with %s: %s", name, usage)
        if response.usage is not None:
            label = response.model or model
            tokens = self._metrics.tokens
            tokens.labels(self._instance, label, "prompt", source).inc(response.usage.prompt_tokens)
            tokens.labels(self._instance, label, "completion", source).inc(
                response.usage.completion_tokens
            )
        return response

    def _encoding_name(self, model: str) -> str:
        return self._encoding or encoding_for_model(model)


async def _tokenise(
    count: Callable[[tiktoken.Encoding, Request], T], encoding: tiktoken.Encoding, request: Request
) -> T:
    size = sum(
        len(part.text)
        for message in request.messages or ()
        for part in message.parts
        if isinstance(part, TextPart)
    )
    if size > _LARGE_PROMPT:
        return await asyncio.to_thread(count, encoding, request)
    return count(encoding, request)
