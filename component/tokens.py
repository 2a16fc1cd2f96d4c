"""Token counting with tiktoken, from its file cache only: never the network.

tiktoken downloads an encoding's BPE file the first time it is asked for one
and keeps it in ``TIKTOKEN_CACHE_DIR`` (else ``DATA_GYM_CACHE_DIR``, else
``<tmp>/data-gym-cache``) under the SHA-1 of its URL. A component must not hang
on a download at request time, nor on a machine without internet, so
:class:`TokenEncodings` first checks that the file is there with the expected
SHA-256 and only then lets tiktoken's own loader read it (the very code that
would have downloaded it); otherwise it logs one warning per encoding saying
where the file must go, and answers ``None``.

Counts follow OpenAI's documented chat framing (3 tokens a message, 3 to prime
the reply, the role and the text); tool definitions and tool calls count as
their JSON text, which the API frames in an unpublished way, so a count here is
close to the upstream's, not equal to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tiktoken
from tiktoken_ext import openai_public

from component.conversation import Request, Response, Role, TextPart, ToolCall, ToolResult

__all__ = [
    "EncodingSource",
    "TokenEncodings",
    "count_completion_tokens",
    "count_prompt_tokens",
    "encoding_for_model",
    "openai_sources",
    "tiktoken_cache_dir",
]

log = logging.getLogger(__name__)

_TOKENS_PER_MESSAGE = 3
_REPLY_PRIMING = 3
_ROLE_WORDS = {
    Role.SYSTEM: "system",
    Role.DEVELOPER: "developer",
    Role.HUMAN: "user",
    Role.GENERIC: "user",
    Role.AI: "assistant",
    Role.FUNCTION: "function",
    Role.TOOL: "tool",
}
# gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the o-series (o1, o3, o4-mini, ...) and gpt-oss.
_O200K = re.compile(r"^(ft:)?(chatgpt-4o|gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d)")


@dataclass(frozen=True, slots=True)
class EncodingSource:
    """Where tiktoken reads an encoding's file, and how it builds the encoding."""

    name: str
    url: str
    sha256: str
    #: ``tiktoken.Encoding``'s keyword arguments, as ``tiktoken_ext`` constructors give them.
    constructor: Callable[[], dict[str, Any]]


def openai_sources() -> dict[str, EncodingSource]:
    """The BPE encodings tiktoken ships constructors for, by name."""
    blob = "https://openaipublic.blob.core.windows.net/encodings"
    known = {
        "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
        "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    }
    return {
        name: EncodingSource(
            name, f"{blob}/{name}.tiktoken", sha, openai_public.ENCODING_CONSTRUCTORS[name]
        )
        for name, sha in known.items()
    }


def encoding_for_model(model: str) -> str:
    """o200k_base for the gpt-4o, gpt-4.1, o-series and gpt-5 families, else cl100k_base."""
    name = model.strip().lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" as routers name it
    return "o200k_base" if _O200K.match(name) else "cl100k_base"


def tiktoken_cache_dir() -> Path | None:
    """The folder tiktoken reads, as ``tiktoken.load`` chooses it; None if caching is off."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


class TokenEncodings:
    """The encodings of one process, loaded once each, from the cache only."""

    def __init__(self, sources: Mapping[str, EncodingSource] | None = None) -> None:
        self._sources = dict(openai_sources() if sources is None else sources)
        self._loaded: dict[str, tiktoken.Encoding] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def names(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def problem(self, name: str) -> str | None:
        """Why ``name`` cannot be loaded without the network, or None if it can."""
        if name in self._loaded:
            return None
        source = self._sources.get(name)
        if source is None:
            return f"unknown encoding {name!r}: use one of {', '.join(self._sources)}"
        folder = tiktoken_cache_dir()
        if folder is None:
            return "TIKTOKEN_CACHE_DIR is empty, which turns tiktoken's cache off"
        path = folder / hashlib.sha1(source.url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key
        try:
            data = path.read_bytes()
        except OSError:
            return f"{path} is missing (it is {source.url}, saved under the SHA-1 of that URL)"
        if hashlib.sha256(data).hexdigest() != source.sha256:
            # tiktoken would delete it and download it again: never here.
            return f"{path} does not hold {source.url} (its SHA-256 differs)"
        return None

    def get(self, name: str) -> tiktoken.Encoding | None:
        """The encoding, or None (warning once) when it is not in the cache. Blocking."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            problem = self.problem(name)
            if problem is not None:
                if name not in self._warned:
                    self._warned.add(name)
                    log.warning(
                        "tiktoken encoding %s is not available offline: %s. Token counts stay "
                        "absent when the upstream reports no usage, and maxInputTokens cannot "
                        "be enforced with it. To fix it, fill a folder on a machine with "
                        'internet (TIKTOKEN_CACHE_DIR=<folder> python -c "import tiktoken; '
                        "tiktoken.get_encoding('%s')\") and point TIKTOKEN_CACHE_DIR at it here.",
                        name,
                        problem,
                        name,
                    )
                return None
            encoding = tiktoken.Encoding(**self._sources[name].constructor())
            self._loaded[name] = encoding
            log.info("tiktoken encoding %s loaded", name)
            return encoding

    async def aget(self, name: str) -> tiktoken.Encoding | None:
        """:meth:`get` off the event loop (building an encoding takes a while)."""
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        return await asyncio.to_thread(self.get, name)


def _count(encoding: tiktoken.Encoding, text: str) -> int:
    # Special-token text in a prompt is ordinary text to the API.
    return len(encoding.encode_ordinary(text)) if text else 0


def count_prompt_tokens(encoding: tiktoken.Encoding, request: Request) -> int:
    """The tokens ``request`` sends: messages, tools and response format."""
    total = _REPLY_PRIMING
    for message in request.messages or ():
        total += _TOKENS_PER_MESSAGE + _count(encoding, _ROLE_WORDS[message.role])
        for part in message.parts:
            if isinstance(part, TextPart):
                total += _count(encoding, part.text)
            elif isinstance(part, ToolCall):
                total += _count(encoding, part.function.name)
                total += _count(encoding, part.function.arguments)
            elif isinstance(part, ToolResult):
                total += _count(encoding, part.content) + _count(encoding, part.tool_call_id)
    for tool in request.tools or ():
        fn = tool.function
        described = {"name": fn.name, "description": fn.description, "parameters": fn.parameters}
        total += _count(encoding, json.dumps(described, sort_keys=True))
    if request.response_format is not None:
        total += _count(encoding, json.dumps(request.response_format, sort_keys=True))
    return total


def count_completion_tokens(encoding: tiktoken.Encoding, response: Response) -> int:
    """The tokens of every choice's content and tool calls."""
    total = 0
    for output in response.outputs:
        for choice in output.choices:
            total += _count(encoding, choice.message.content)
            for call in choice.message.tool_calls or ():
                total += _count(encoding, call.function.name)
                total += _count(encoding, call.function.arguments)
    return total
