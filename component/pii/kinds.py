"""The kinds of PII pyllm knows and the tags that replace them.

A tag is what a value becomes: ``<EMAIL_ADDRESS>``. Where daprd's own scrubber
(github.com/aavaz-ai/pii-scrubber) has a tag for the same kind, pyllm uses that tag,
so an answer reads the same whichever of the two scrubbed it. Presidio names two of
those kinds differently (``IP_ADDRESS``, ``IBAN_CODE``); they are accepted as aliases.

No Presidio import here: settings are validated with these names at ``Init`` even
when no analyzer has been built yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "DAPRD_KINDS",
    "DEFAULT_KINDS",
    "KNOWN_KINDS",
    "NER_KINDS",
    "PRESIDIO_ALIASES",
    "TAG_PATTERN",
    "Finding",
    "canonical_kind",
]

#: The kinds daprd's default scrubber replaces, with its tags.
DAPRD_KINDS: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IP",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN",
    "MAC_ADDRESS",
    "ISBN",
    "ZIP_CODE",
    "STREET_ADDRESS",
    "PO_BOX",
)

#: Found only by a named-entity model (``piiModel``).
NER_KINDS: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION", "NRP")

#: Presidio's pattern recognizers that are off unless ``piiEntities`` names them:
#: on ordinary prompts they raise more false alarms than they catch PII.
_OPT_IN_KINDS: tuple[str, ...] = (
    "URL",
    "DATE_TIME",
    "CRYPTO",
    "UUID",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "UK_NHS",
    "MEDICAL_LICENSE",
)

#: Every built-in kind ``piiEntities`` may name.
KNOWN_KINDS: frozenset[str] = frozenset((*DAPRD_KINDS, *NER_KINDS, *_OPT_IN_KINDS))

#: What is scrubbed when ``piiEntities`` is not set (NER kinds need ``piiModel``).
DEFAULT_KINDS: tuple[str, ...] = DAPRD_KINDS

#: Presidio's entity names for kinds pyllm tags differently (daprd's tags).
PRESIDIO_ALIASES: Mapping[str, str] = MappingProxyType({"IP_ADDRESS": "IP", "IBAN_CODE": "IBAN"})

#: A tag's name: upper-case letters, digits and underscores, starting with a letter.
TAG_PATTERN = re.compile(r"[A-Z][A-Z0-9_]*")


def canonical_kind(name: str) -> str:
    """The kind for a name as a person or Presidio writes it (``ip_address`` -> ``IP``)."""
    upper = name.strip().upper()
    return PRESIDIO_ALIASES.get(upper, upper)


class Finding(NamedTuple):
    """One value found in a text: ``text[start:end]`` is of kind ``kind``.

    A plain tuple so that worker processes return findings cheaply; the value
    itself is never part of it (it stays in the text it came from).
    """

    start: int
    end: int
    kind: str
    score: float
