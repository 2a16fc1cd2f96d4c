"""Cache keys and sealed entries: nothing readable reaches the store.

A request's *material* is the canonical encoding (sorted-key compact JSON) of
everything that decides its answer: the instance name (instances never share
entries), the provider's identity (name, endpoint, model after overrides),
messages, tools, tool choice, temperature, response format, provider
parameters and every metadata key except the cache's own control keys. Left
out on purpose: the deadline (when the caller gives up, not what it asks),
``prompt_cache_retention`` (how long the *provider* keeps its prompt cache)
and the context id (an echoed context id is handed back as the caller's own,
see :class:`component.cache.entry.Answer`).

From one secret two keys are derived; per request:

* the **lookup key** is HMAC-SHA-256(lookup secret, material), hex: it names
  the entry and, without the secret, says nothing about the prompt;
* the **sealing key** is HMAC-SHA-256(sealing secret, material): the entry is
  AES-256-GCM encrypted with it, bound to its lookup key. Reading an entry
  thus takes the secret *and* the full request, so neither prompts, answers
  nor PII can be read from the store's bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from component.cache.control import is_control_key
from component.cache.entry import Answer, decode_answer, encode_answer
from component.conversation import Message, Request, TextPart, ToolCall, ToolResult

__all__ = ["EntryKeys", "KeyRing", "UncacheableError", "canonical_request", "flight_key"]

_VERSION = b"\x01"
_NONCE_BYTES = 12


class UncacheableError(ValueError):
    """The request holds a value with no canonical JSON form (NaN, bytes...)."""


def canonical_request(instance: str, identity: Mapping[str, str], request: Request) -> bytes:
    """The material of ``request``: equal exactly when the answer would be."""
    document = {
        "v": 1,
        "instance": instance,
        "identity": {str(key): str(value) for key, value in identity.items()},
        "messages": None if request.messages is None else [_message(m) for m in request.messages],
        "tools": None
        if request.tools is None
        else [
            {
                "type": tool.type,
                "name": tool.function.name,
                "description": tool.function.description,
                "parameters": tool.function.parameters,
                "strict": tool.function.strict,
            }
            for tool in request.tools
        ],
        "tool_choice": request.tool_choice,
        "temperature": request.temperature,
        "response_format": request.response_format,
        "parameters": dict(request.parameters),
        "metadata": {k: v for k, v in request.metadata.items() if not is_control_key(k)},
    }
    try:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UncacheableError(f"{type(exc).__name__}: no canonical form") from exc
    return text.encode("ascii")  # ensure_ascii: no surrogate can fail this


def _message(message: Message) -> dict[str, Any]:
    return {"role": message.role.value, "parts": [_part(part) for part in message.parts]}


def _part(part: TextPart | ToolCall | ToolResult) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ToolCall):
        return {
            "tool_call": {
                "id": part.id,
                "type": part.type,
                "name": part.function.name,
                "arguments": part.function.arguments,
            }
        }
    return {"tool_result": {"id": part.tool_call_id, "name": part.name, "content": part.content}}


@dataclass(frozen=True, slots=True)
class EntryKeys:
    """The keys of one request's entry."""

    #: Names the entry in the store (64 hex characters).
    lookup: str
    #: Encrypts the entry; never stored.
    sealing: bytes

    def seal(self, answer: Answer) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        data = AESGCM(self.sealing).encrypt(nonce, encode_answer(answer), self._bound())
        return _VERSION + nonce + data

    def unseal(self, blob: bytes) -> Answer:
        """The stored answer; ValueError when the entry is not one this key sealed."""
        if len(blob) <= 1 + _NONCE_BYTES or blob[:1] != _VERSION:
            raise ValueError("not a sealed cache entry")
        nonce, data = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            plain = AESGCM(self.sealing).decrypt(nonce, data, self._bound())
        except InvalidTag as exc:
            raise ValueError("cache entry fails authentication") from exc
        return decode_answer(plain)

    def _bound(self) -> bytes:
        # Associated data: an entry copied under another key does not open.
        return b"pyllm-cache-entry:" + self.lookup.encode("ascii")


class KeyRing:
    """Derives per-request entry keys from one cache key secret."""

    def __init__(self, secret: bytes) -> None:
        self._lookup = _derive(secret, b"pyllm cache lookup key v1")
        self._sealing = _derive(secret, b"pyllm cache sealing key v1")

    def keys_for(self, material: bytes) -> EntryKeys:
        return EntryKeys(
            lookup=hmac.digest(self._lookup, material, "sha256").hex(),
            sealing=hmac.digest(self._sealing, material, "sha256"),
        )


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.digest(secret, purpose, "sha256")


def flight_key(material: bytes) -> bytes:
    """An in-memory name for coalescing, usable before the secret is known."""
    return hashlib.sha256(material).digest()
