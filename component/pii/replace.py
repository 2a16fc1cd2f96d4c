"""Replacing findings with tags, and putting values back.

One :class:`Replacer` serves one request: in ``redact`` mode a value becomes its
tag (``<EMAIL_ADDRESS>``); in ``pseudonymize`` mode each distinct value gets a
numbered placeholder, stable within the request (``<PERSON_1>`` every time the
same name appears), and :meth:`Replacer.restore` maps placeholders back. The
mapping lives in this object only, which the request drops when it ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from component.pii.kinds import Finding
from component.pii.settings import PiiMode

__all__ = ["PLACEHOLDER", "Replacer"]

#: A numbered placeholder as pseudonymisation writes it.
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")


class Replacer:
    """Replaces findings in the texts of one request."""

    def __init__(self, mode: PiiMode, *, reserved: Iterable[str] = ()) -> None:
        self._mode = mode
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        # Placeholders already written in the caller's own text: never handed out,
        # or restoring would turn the caller's literal text into someone's value.
        self._reserved = frozenset(reserved)
        self._restorable: frozenset[str] = frozenset()

    @staticmethod
    def placeholders_in(texts: Iterable[str]) -> set[str]:
        """Placeholder-like tokens already present in ``texts``."""
        return {match.group(0) for text in texts for match in PLACEHOLDER.finditer(text)}

    def replace(self, text: str, findings: Sequence[Finding]) -> str:
        """``text`` with each finding (ordered, non-overlapping) replaced."""
        if not findings:
            return text
        pieces: list[str] = []
        position = 0
        for finding in findings:
            pieces.append(text[position : finding.start])
            pieces.append(self._token(finding.kind, text[finding.start : finding.end]))
            position = finding.end
        pieces.append(text[position:])
        return "".join(pieces)

    def _token(self, kind: str, value: str) -> str:
        if self._mode is PiiMode.REDACT:
            return f"<{kind}>"
        key = (kind, value)
        token = self._by_value.get(key)
        if token is None:
            number = self._counts.get(kind, 0)
            while True:
                number += 1
                token = f"<{kind}_{number}>"
                if token not in self._reserved:
                    break
            self._counts[kind] = number
            self._by_value[key] = token
            self._originals[token] = value
        return token

    def seal(self) -> None:
        """Mark the placeholders handed out so far as the ones :meth:`restore` undoes.

        Called once the input is scrubbed: values found later, in the provider's
        answer, were not the caller's and stay replaced.
        """
        self._restorable = frozenset(self._originals)

    def restore(self, text: str) -> str:
        """``text`` with every sealed placeholder put back to its original value."""
        if not self._restorable or "<" not in text:
            return text

        def original(match: re.Match[str]) -> str:
            token = match.group(0)
            return self._originals[token] if token in self._restorable else token

        return PLACEHOLDER.sub(original, text)
