"""The component's PII settings, read and validated at ``Init``.

Nothing here imports Presidio or spaCy: validating a configuration (regexes,
kind names, whether a model is installed) is cheap, so a bad setting is reported
at ``Init`` with a message naming the field, whether or not scrubbing is on.

Fields (component metadata):

``scrubPII``           none | input | output | both — the floor; a request may ask
                       for more with its own ``scrubPII`` metadata, never less.
``piiMode``            redact (``<EMAIL_ADDRESS>``) | pseudonymize (``<EMAIL_ADDRESS_1>``).
``piiRestore``         with pseudonymize: put the original values back into the answer.
``piiEntities``        comma-separated kinds to find (default: daprd's eleven kinds,
                       plus PERSON and LOCATION when ``piiModel`` is set).
``piiScoreThreshold``  0..1; findings scored below are ignored.
``piiAllowList``       comma-separated values never replaced (exact match).
``piiPatterns``        JSON object of custom recognizers, tag -> regex or list of regexes.
``piiModel``           an installed spaCy package name or the folder of a saved pipeline,
                       for named entities (PERSON, LOCATION, ...); never downloaded.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from component.errors import InvalidRequestError, InvalidSettingError
from component.pii.kinds import (
    DEFAULT_KINDS,
    KNOWN_KINDS,
    NER_KINDS,
    TAG_PATTERN,
    canonical_kind,
)
from component.settings import Properties

__all__ = [
    "REQUEST_SCRUB_KEY",
    "AnalysisOptions",
    "EngineSpec",
    "PiiMode",
    "PiiSettings",
    "Scope",
    "read_pii_settings",
    "requested_scope",
]

#: The request metadata key by which one request asks for more scrubbing.
REQUEST_SCRUB_KEY = "scrubPII"

DEFAULT_SCORE_THRESHOLD = 0.4

_PACKAGE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Scope(enum.Flag):
    """Which side of the provider is scrubbed."""

    NONE = 0
    INPUT = enum.auto()
    OUTPUT = enum.auto()
    BOTH = INPUT | OUTPUT


_SCOPES = {"none": Scope.NONE, "input": Scope.INPUT, "output": Scope.OUTPUT, "both": Scope.BOTH}


class PiiMode(enum.Enum):
    REDACT = "redact"
    PSEUDONYMIZE = "pseudonymize"


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """What an analyzer is built from; analyzers are cached by it.

    ``patterns`` are (tag, regex) pairs in the order given.
    """

    model: str | None = None
    patterns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """What one analysis looks for; passed with every call, not built in."""

    kinds: tuple[str, ...] = DEFAULT_KINDS
    threshold: float = DEFAULT_SCORE_THRESHOLD
    allow_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PiiSettings:
    floor: Scope = Scope.NONE
    mode: PiiMode = PiiMode.REDACT
    restore: bool = False
    spec: EngineSpec = EngineSpec()
    options: AnalysisOptions = AnalysisOptions()


def read_pii_settings(properties: Properties) -> PiiSettings:
    """Read and validate every ``pii*`` field and ``scrubPII``."""
    floor = _SCOPES[properties.choice("scrubPII", tuple(_SCOPES), default="none")]
    mode = PiiMode(properties.choice("piiMode", tuple(m.value for m in PiiMode), default="redact"))
    restore = properties.boolean("piiRestore", default=False)
    if restore and mode is not PiiMode.PSEUDONYMIZE:
        raise InvalidSettingError(
            "piiRestore", "needs piiMode: pseudonymize (redacted values cannot be restored)"
        )
    model = _model(properties)
    patterns = _patterns(properties)
    custom = tuple(dict.fromkeys(tag for tag, _ in patterns))
    kinds = _kinds(properties, has_model=model is not None, custom=custom)
    threshold = properties.number(
        "piiScoreThreshold", DEFAULT_SCORE_THRESHOLD, minimum=0, maximum=1
    )
    allow_list = properties.string_list("piiAllowList")
    return PiiSettings(
        floor=floor,
        mode=mode,
        restore=restore,
        spec=EngineSpec(model=model, patterns=patterns),
        options=AnalysisOptions(
            kinds=tuple(dict.fromkeys((*kinds, *custom))),
            threshold=threshold,
            allow_list=allow_list,
        ),
    )


def requested_scope(metadata: Mapping[str, str]) -> Scope:
    """The scope a request asks for in its metadata (``scrubPII``), NONE if absent."""
    wanted = REQUEST_SCRUB_KEY.lower()
    for key, value in metadata.items():
        if key.lower() == wanted:
            scope = _SCOPES.get(value.strip().lower())
            if scope is None:
                raise InvalidRequestError(
                    f"request metadata {key!r}: {value!r} is not one of "
                    f"{', '.join(_SCOPES)} (it can add to the component's scrubPII, "
                    "never lower it)"
                )
            return scope
    return Scope.NONE


def _model(properties: Properties) -> str | None:
    name = properties.string("piiModel")
    if not name:
        return None
    if _PACKAGE_NAME.fullmatch(name) and importlib.util.find_spec(name) is not None:
        return name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.cfg").is_file():
            raise InvalidSettingError(
                "piiModel", f"{name!r} is a folder but not a saved spaCy pipeline (no config.cfg)"
            )
        return str(path.resolve())
    raise InvalidSettingError(
        "piiModel",
        f"{name!r} is neither an installed spaCy package nor a folder: install the model "
        "package in the component's image or give the folder of a saved pipeline "
        "(pyllm never downloads models)",
    )


def _kinds(properties: Properties, *, has_model: bool, custom: tuple[str, ...]) -> tuple[str, ...]:
    names = properties.string_list("piiEntities")
    if not names:
        return (*DEFAULT_KINDS, "PERSON", "LOCATION") if has_model else DEFAULT_KINDS
    kinds: list[str] = []
    for name in names:
        kind = canonical_kind(name)
        if kind in custom:
            continue  # custom tags are always looked for
        if kind not in KNOWN_KINDS:
            raise InvalidSettingError(
                "piiEntities",
                f"{name!r} is not a known kind: use {', '.join(sorted(KNOWN_KINDS))}, "
                "or define it in piiPatterns",
            )
        if kind in NER_KINDS and not has_model:
            raise InvalidSettingError(
                "piiEntities", f"{kind} is found only by a named-entity model: set piiModel"
            )
        kinds.append(kind)
    return tuple(dict.fromkeys(kinds))


def _patterns(properties: Properties) -> tuple[tuple[str, str], ...]:
    raw = properties.string("piiPatterns")
    if not raw:
        return ()
    example = 'use a JSON object of tag to regex, e.g. {"EMPLOYEE_ID": "\\\\bE-\\\\d{6}\\\\b"}'
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidSettingError("piiPatterns", f"is not JSON ({exc.msg}): {example}") from exc
    if not isinstance(decoded, dict) or not decoded:
        raise InvalidSettingError("piiPatterns", f"is not a non-empty JSON object: {example}")
    pairs: list[tuple[str, str]] = []
    for tag, value in decoded.items():
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidSettingError(
                "piiPatterns",
                f"tag {tag!r} must be upper-case letters, digits and underscores, "
                "starting with a letter",
            )
        regexes = value if isinstance(value, list) else [value]
        if not regexes or not all(isinstance(r, str) and r for r in regexes):
            raise InvalidSettingError(
                "piiPatterns", f"{tag}: give a regex string or a list of regex strings"
            )
        for regex in regexes:
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                raise InvalidSettingError(
                    "piiPatterns", f"{tag}: {regex!r} is not a valid regex ({exc})"
                ) from exc
            if compiled.search(""):
                raise InvalidSettingError(
                    "piiPatterns", f"{tag}: {regex!r} matches the empty string"
                )
            pairs.append((tag, regex))
    return tuple(pairs)
