"""What the analyzer finds: every kind in several formats, and nothing in look-alikes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from component.pii.analyzer import Detector, build_detector
from component.pii.kinds import DAPRD_KINDS
from component.pii.replace import Replacer
from component.pii.settings import AnalysisOptions, EngineSpec, PiiMode
from tests.support.pii_eval import load_daprd_outputs, load_labelled, score, spans_from_scrubbed

DEFAULT = AnalysisOptions()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return build_detector(EngineSpec())


def scrub(detector: Detector, text: str, options: AnalysisOptions = DEFAULT) -> str:
    return Replacer(PiiMode.REDACT).replace(text, detector.find(text, options))


@dataclass
class Case:
    reason: str
    text: str
    want: str


FOUND = [
    Case("e-mail", "write to jane.roe@example.org.", "write to <EMAIL_ADDRESS>."),
    Case("e-mail, plus tag", "a+b@example.com", "<EMAIL_ADDRESS>"),
    Case("e-mail on an IP literal", "ops@10.1.2.3", "<EMAIL_ADDRESS>"),
    Case("e-mail, internal domain", "ci@build.internal", "<EMAIL_ADDRESS>"),
    Case("E.164, not a UK NHS number", "call +2222222222", "call <PHONE_NUMBER>"),
    Case("E.164, India", "+919140520809", "<PHONE_NUMBER>"),
    Case("NANP with parentheses", "(415) 555-2671", "<PHONE_NUMBER>"),
    Case("NANP with dots", "415.555.2671", "<PHONE_NUMBER>"),
    Case("NANP with extension", "415-555-2671 x104", "<PHONE_NUMBER>"),
    Case("international, spaced", "+44 20 7946 0958", "<PHONE_NUMBER>"),
    Case("UK national", "dial 020 7946 0959", "dial <PHONE_NUMBER>"),
    Case("bare number after 'call'", "call 4155552677 now", "call <PHONE_NUMBER> now"),
    Case("IPv4", "from 203.0.113.195", "from <IP>"),
    Case("IPv6", "at 2001:db8:3333:4444:5555:6666:7777:8888", "at <IP>"),
    Case("Visa, spaced", "4111 1111 1111 1111", "<CREDIT_CARD>"),
    Case("Visa, dashed", "4111-1111-1111-1111", "<CREDIT_CARD>"),
    Case("Amex 4-6-5", "3782 822463 10005", "<CREDIT_CARD>"),
    Case("Diners 4-6-4", "3056 9309 0259 04", "<CREDIT_CARD>"),
    Case("SSN, dashed", "SSN 536-22-1234", "SSN <US_SSN>"),
    Case("SSN, bare after context", "my ssn is 536221234", "my ssn is <US_SSN>"),
    Case("IBAN, spaced", "GB82 WEST 1234 5698 7654 32", "<IBAN>"),
    Case("IBAN, compact", "DE89370400440532013000", "<IBAN>"),
    Case("MAC, colons", "00:1A:2B:3C:4D:5E", "<MAC_ADDRESS>"),
    Case("MAC, Cisco dots", "001a.2b3c.4d5e", "<MAC_ADDRESS>"),
    Case("ISBN-13, hyphens", "978-0-306-40615-7", "<ISBN>"),
    Case("ISBN-10 after the keyword", "ISBN 0306406152", "ISBN <ISBN>"),
    Case("ISBN-10 with X", "ISBN 0-8044-2957-X", "ISBN <ISBN>"),
    Case("ZIP after a state", "Austin, TX 78701", "Austin, TX <ZIP_CODE>"),
    Case(
        "ZIP+4 after a state name",
        "Boston, Massachusetts 02108-4400",
        "Boston, Massachusetts <ZIP_CODE>",
    ),
    Case("ZIP after 'zip code'", "zip code 60614", "zip code <ZIP_CODE>"),
    Case("street, capitalised", "at 742 Evergreen Terrace.", "at <STREET_ADDRESS>."),
    Case("street, abbreviated", "500 W 2nd St", "<STREET_ADDRESS>"),
    Case("street, lower case", "123 main street", "<STREET_ADDRESS>"),
    Case("PO box", "P.O. Box 283", "<PO_BOX>"),
    Case("Post Office Box", "Post Office Box 42", "<PO_BOX>"),
]


@pytest.mark.parametrize("case", FOUND, ids=lambda c: c.reason)
def test_each_kind_is_found_in_several_formats(detector: Detector, case: Case) -> None:
    assert scrub(detector, case.text) == case.want


CLEAN = [
    "version 1.2.3 and Python 3.11.7",
    "Order #123456 and order 98765",
    "2024-05-01T12:34:56Z, 12:30, epoch 1700000000",
    "Total $1,299.99, 45.00 EUR",
    "12345 rows in 2023, build 20240501",
    "SKU 8801234567 and ticket 45213",
    "PR 12873 and ID 00123-4567",
    "card 4111 1111 1111 1112 (bad Luhn)",
    "I bought 4 items in the first street market stall.",
    "Drive 5 miles down the road.",
    "call it 12 more times",
    "Unix time 1715600000000 ms",
    "request id 550e8400-e29b-41d4-a716-446655440000",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_look_alikes_are_left_alone(detector: Detector, text: str) -> None:
    assert detector.find(text, DEFAULT) == []


def test_findings_are_ordered_and_never_overlap(detector: Detector) -> None:
    text = "SSN 536-22-1234, card 4111 1111 1111 1111, call +1 415 555 2671, 10.0.0.1"
    findings = detector.find(text, DEFAULT)
    assert [f.kind for f in findings] == ["US_SSN", "CREDIT_CARD", "PHONE_NUMBER", "IP"]
    for before, after in itertools.pairwise(findings):
        assert before.end <= after.start


def test_kinds_outside_the_list_are_not_looked_for(detector: Detector) -> None:
    only_email = AnalysisOptions(kinds=("EMAIL_ADDRESS",))
    text = "jane@example.org, +2222222222, 10.0.0.1"
    assert scrub(detector, text, only_email) == "<EMAIL_ADDRESS>, +2222222222, 10.0.0.1"


def test_allow_list_keeps_exact_values(detector: Detector) -> None:
    options = AnalysisOptions(allow_list=("support@example.com",))
    text = "support@example.com or jane@example.org"
    assert scrub(detector, text, options) == "support@example.com or <EMAIL_ADDRESS>"


def test_score_threshold_drops_weak_findings(detector: Detector) -> None:
    text = "Austin, TX 78701-1234 and 94103-1234"
    # ZIP+4 alone scores 0.3, after a state 0.6.
    assert scrub(detector, text, AnalysisOptions(threshold=0.25)) == (
        "Austin, TX <ZIP_CODE> and <ZIP_CODE>"
    )
    assert scrub(detector, text) == "Austin, TX <ZIP_CODE> and 94103-1234"
    assert scrub(detector, text, AnalysisOptions(threshold=0.9)) == text


def test_opt_in_presidio_kinds_use_their_presidio_names(detector: Detector) -> None:
    options = AnalysisOptions(kinds=("URL", "UK_NHS"))
    assert scrub(detector, "see https://example.org/a", options) == "see <URL>"


def test_custom_patterns_are_found_with_their_tags() -> None:
    detector = build_detector(EngineSpec(patterns=(("EMPLOYEE_ID", r"\bE-\d{6}\b"),)))
    options = AnalysisOptions(kinds=("EMPLOYEE_ID", "EMAIL_ADDRESS"))
    assert scrub(detector, "E-123456 is jane@example.org", options) == (
        "<EMPLOYEE_ID> is <EMAIL_ADDRESS>"
    )


# --- the labelled set -----------------------------------------------------------


@pytest.fixture(scope="module")
def pyllm_outputs(detector: Detector) -> list[str]:
    return [scrub(detector, item.text) for item in load_labelled()]


def test_labelled_set_precision_and_recall(pyllm_outputs: list[str]) -> None:
    scores = score(load_labelled(), pyllm_outputs)
    assert {k for k in scores if k != "ALL"} == set(DAPRD_KINDS)
    assert scores["ALL"].false_alarms_on_clean == 0
    assert scores["ALL"].precision >= 0.98
    assert scores["ALL"].recall >= 0.98
    for kind in DAPRD_KINDS:
        assert scores[kind].recall >= 0.9, (kind, scores[kind].misses)
        assert scores[kind].precision >= 0.9, (kind, scores[kind].wrong)


def test_wherever_daprd_finds_pii_pyllm_finds_it_with_the_same_tag(
    pyllm_outputs: list[str],
) -> None:
    # daprd's outputs were recorded through the project's daprd (conversation.echo
    # with scrubPii) by `python -m tests.support.pii_eval --write-daprd`.
    items = load_labelled()
    daprd_outputs = load_daprd_outputs()
    assert len(daprd_outputs) == len(items), "re-record: the labelled set changed"
    for item, ours, theirs in zip(items, pyllm_outputs, daprd_outputs, strict=True):
        daprd_spans = spans_from_scrubbed(item.text, theirs)
        our_spans = spans_from_scrubbed(item.text, ours)
        for gold in item.gold:
            if any(d.kind == gold.kind and d.overlaps(gold) for d in daprd_spans):
                assert any(o.kind == gold.kind and o.overlaps(gold) for o in our_spans), (
                    item.text,
                    gold,
                )
    daprd_scores = score(items, daprd_outputs)
    our_scores = score(items, pyllm_outputs)
    assert our_scores["ALL"].detected - our_scores["ALL"].correct < (
        daprd_scores["ALL"].detected - daprd_scores["ALL"].correct
    )
