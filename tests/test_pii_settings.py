"""The PII settings: defaults, parsing, and the exact messages of bad values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from component.errors import InvalidRequestError, InvalidSettingError
from component.pii.kinds import DAPRD_KINDS
from component.pii.settings import (
    AnalysisOptions,
    EngineSpec,
    PiiMode,
    PiiSettings,
    Scope,
    read_pii_settings,
    requested_scope,
)
from component.settings import Properties


def read(**fields: str) -> PiiSettings:
    return read_pii_settings(Properties(fields))


def test_defaults_scrub_nothing_and_look_for_daprds_kinds() -> None:
    settings = read()
    assert settings == PiiSettings(
        floor=Scope.NONE,
        mode=PiiMode.REDACT,
        restore=False,
        spec=EngineSpec(model=None, patterns=()),
        options=AnalysisOptions(kinds=DAPRD_KINDS, threshold=0.4, allow_list=()),
    )


def test_fields_are_read_and_normalised(tmp_path: Path) -> None:
    (tmp_path / "config.cfg").write_text("")
    settings = read(
        scrubPII="Both",
        piiMode="pseudonymize",
        piiRestore="true",
        piiEntities="email_address, ip_address,PERSON, EMPLOYEE_ID",
        piiScoreThreshold="0.55",
        piiAllowList="support@example.com, 10.0.0.1",
        piiPatterns='{"EMPLOYEE_ID": "\\\\bE-\\\\d{6}\\\\b", "TICKET": ["T-\\\\d+", "TKT\\\\d+"]}',
        piiModel=str(tmp_path),
    )
    assert settings.floor is Scope.BOTH
    assert settings.mode is PiiMode.PSEUDONYMIZE
    assert settings.restore is True
    assert settings.spec == EngineSpec(
        model=str(tmp_path.resolve()),
        patterns=(("EMPLOYEE_ID", r"\bE-\d{6}\b"), ("TICKET", r"T-\d+"), ("TICKET", r"TKT\d+")),
    )
    assert settings.options == AnalysisOptions(
        kinds=("EMAIL_ADDRESS", "IP", "PERSON", "EMPLOYEE_ID", "TICKET"),
        threshold=0.55,
        allow_list=("support@example.com", "10.0.0.1"),
    )


def test_a_model_adds_person_and_location_to_the_default_kinds(tmp_path: Path) -> None:
    (tmp_path / "config.cfg").write_text("")
    assert read(piiModel=str(tmp_path)).options.kinds == (*DAPRD_KINDS, "PERSON", "LOCATION")


@dataclass
class Bad:
    reason: str
    fields: dict[str, str]
    message: str


BAD = [
    Bad(
        "unknown scope",
        {"scrubPII": "always"},
        "metadata field 'scrubPII': 'always' is not one of none, input, output, both",
    ),
    Bad(
        "unknown mode",
        {"piiMode": "mask"},
        "metadata field 'piiMode': 'mask' is not one of redact, pseudonymize",
    ),
    Bad(
        "restore without pseudonyms",
        {"piiRestore": "true"},
        "metadata field 'piiRestore': needs piiMode: pseudonymize "
        "(redacted values cannot be restored)",
    ),
    Bad(
        "threshold out of range",
        {"piiScoreThreshold": "1.5"},
        "metadata field 'piiScoreThreshold': 1.5 is above the maximum 1",
    ),
    Bad(
        "NER kind without a model",
        {"piiEntities": "PERSON"},
        "metadata field 'piiEntities': PERSON is found only by a named-entity model: set piiModel",
    ),
    Bad(
        "patterns not JSON",
        {"piiPatterns": "EMPLOYEE_ID=E-\\d+"},
        "metadata field 'piiPatterns': is not JSON (Expecting value): use a JSON object of tag "
        'to regex, e.g. {"EMPLOYEE_ID": "\\\\bE-\\\\d{6}\\\\b"}',
    ),
    Bad(
        "patterns not an object",
        {"piiPatterns": '["E-\\\\d+"]'},
        "metadata field 'piiPatterns': is not a non-empty JSON object: use a JSON object of "
        'tag to regex, e.g. {"EMPLOYEE_ID": "\\\\bE-\\\\d{6}\\\\b"}',
    ),
    Bad(
        "lower-case tag",
        {"piiPatterns": '{"employee": "E-\\\\d+"}'},
        "metadata field 'piiPatterns': tag 'employee' must be upper-case letters, digits and "
        "underscores, starting with a letter",
    ),
    Bad(
        "regex that does not compile",
        {"piiPatterns": '{"EMPLOYEE_ID": "E-(\\\\d+"}'},
        "metadata field 'piiPatterns': EMPLOYEE_ID: 'E-(\\\\d+' is not a valid regex "
        "(missing ), unterminated subpattern at position 2)",
    ),
    Bad(
        "regex matching nothing at all",
        {"piiPatterns": '{"EMPTY": "x*"}'},
        "metadata field 'piiPatterns': EMPTY: 'x*' matches the empty string",
    ),
    Bad(
        "regex not a string",
        {"piiPatterns": '{"EMPLOYEE_ID": 12}'},
        "metadata field 'piiPatterns': EMPLOYEE_ID: give a regex string or a list of regex strings",
    ),
    Bad(
        "model neither installed nor a folder",
        {"piiModel": "en_core_web_doesnotexist"},
        "metadata field 'piiModel': 'en_core_web_doesnotexist' is neither an installed spaCy "
        "package nor a folder: install the model package in the component's image or give the "
        "folder of a saved pipeline (pyllm never downloads models)",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.reason)
def test_bad_settings_are_reported_exactly(case: Bad) -> None:
    with pytest.raises(InvalidSettingError) as info:
        read(**case.fields)
    assert str(info.value) == case.message


def test_unknown_kind_names_the_accepted_ones() -> None:
    with pytest.raises(InvalidSettingError) as info:
        read(piiEntities="EMAIL_ADDRESS, PASSPORT")
    message = str(info.value)
    assert message.startswith("metadata field 'piiEntities': 'PASSPORT' is not a known kind: use ")
    assert "US_PASSPORT" in message
    assert message.endswith(", or define it in piiPatterns")


def test_a_folder_that_is_not_a_pipeline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettingError) as info:
        read(piiModel=str(tmp_path))
    assert str(info.value) == (
        f"metadata field 'piiModel': {str(tmp_path)!r} is a folder but not a saved spaCy "
        "pipeline (no config.cfg)"
    )


@pytest.mark.parametrize(
    ("metadata", "want"),
    [
        ({}, Scope.NONE),
        ({"scrubPII": "input"}, Scope.INPUT),
        ({"scrubpii": " OUTPUT "}, Scope.OUTPUT),
        ({"ScrubPII": "both"}, Scope.BOTH),
        ({"scrubPII": "none"}, Scope.NONE),
        ({"other": "x"}, Scope.NONE),
    ],
)
def test_requested_scope(metadata: dict[str, str], want: Scope) -> None:
    assert requested_scope(metadata) is want


def test_requested_scope_refuses_unknown_values() -> None:
    with pytest.raises(InvalidRequestError) as info:
        requested_scope({"scrubPII": "off"})
    assert str(info.value) == (
        "request metadata 'scrubPII': 'off' is not one of none, input, output, both "
        "(it can add to the component's scrubPII, never lower it)"
    )
