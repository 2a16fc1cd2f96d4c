"""pyllm's own recognizers: the kinds daprd finds that Presidio does not, done stricter.

daprd's scrubber tags any 5-digit number a ZIP code, any 10- or 13-digit number an
ISBN, and any run of digits a phone number. Here each kind needs more than digits:

* ``ZIP_CODE``: after a US state (``CA 94103``, ``Texas 77987``) or a keyword
  (``zip``, ``postal code``); a ZIP+4 (``94103-1234``) alone is a weaker finding;
* ``ISBN``: a valid check digit, and the ``ISBN`` keyword, hyphens, or a 978/979
  prefix — a bare 10-digit number is a phone number at least as often;
* ``PHONE_NUMBER``: E.164 (``+2222222222``, which Presidio alone reads as a UK NHS
  number) and international numbers with separators; NANP numbers with
  separators and extensions; Presidio's libphonenumber recognizer does the rest;
* ``STREET_ADDRESS``: a number, capitalised name words and a street suffix as a
  whole word; ``PO_BOX``; ``CREDIT_CARD`` in the groupings Presidio's regex misses
  (Amex 4-6-5), Luhn-checked; ``EMAIL_ADDRESS`` on IP literals and internal
  domains, which Presidio's check against the public suffix list rejects.

Custom ``piiPatterns`` use the same :class:`RegexRecognizer`, scored 1.0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["RegexRecognizer", "RegexRule", "builtin_recognizers", "custom_recognizers"]

#: How far before a match a context keyword may be, in characters.
_CONTEXT_WINDOW = 40


@dataclass(frozen=True, slots=True)
class RegexRule:
    """One way a kind shows up in text.

    ``group`` names the part of the match that is the value (the rest is context
    that must be there); ``context`` is searched in the text just before the value
    and, when found, lifts the score to ``context_score``.
    """

    regex: re.Pattern[str]
    score: float
    group: str | None = None
    validate: Callable[[str], bool] | None = None
    #: A check that needs the whole match (its context groups), not only the value.
    check: Callable[[re.Match[str]], bool] | None = None
    context: re.Pattern[str] | None = None
    context_score: float = 0.0


class RegexRecognizer(LocalRecognizer):
    """A Presidio recognizer for one kind from :class:`RegexRule` s."""

    def __init__(self, kind: str, rules: Sequence[RegexRule], *, name: str | None = None) -> None:
        self._rules = tuple(rules)
        self._label = name or f"pyllm_{kind.lower()}"
        super().__init__(supported_entities=[kind], name=self._label)

    def load(self) -> None:
        """Nothing to load: the rules are compiled already."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        del nlp_artifacts
        kind = self.supported_entities[0]
        if kind not in entities:
            return []
        results: list[RecognizerResult] = []
        for rule in self._rules:
            for match in rule.regex.finditer(text):
                start, end = match.span(rule.group) if rule.group else match.span()
                if start == end:
                    continue
                value = text[start:end]
                if rule.validate is not None and not rule.validate(value):
                    continue
                if rule.check is not None and not rule.check(match):
                    continue
                score = rule.score
                if rule.context is not None and rule.context.search(
                    text, max(0, start - _CONTEXT_WINDOW), start
                ):
                    score = max(score, rule.context_score)
                results.append(
                    RecognizerResult(
                        entity_type=kind,
                        start=start,
                        end=end,
                        score=score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self._label,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return results


# --- checks -------------------------------------------------------------------


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit() or c in "xX")


def luhn_valid(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def isbn_valid(value: str) -> bool:
    code = _digits(value).upper()
    if len(code) == 10 and code[:9].isdigit():
        last = 10 if code[9] == "X" else int(code[9]) if code[9].isdigit() else -1
        if last < 0:
            return False
        total = sum((10 - i) * int(c) for i, c in enumerate(code[:9])) + last
        return total % 11 == 0
    if len(code) == 13 and code.isdigit() and code[:3] in ("978", "979"):
        total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(code))
        return total % 10 == 0
    return False


def _digit_count(low: int, high: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return low <= sum(c.isdigit() for c in value) <= high

    return check


# --- the rules ------------------------------------------------------------------

_STATES = (
    "AK|AZ|AR|CA|CT|DC|FL|GA|IL|IA|KS|KY|MD|MI|MN|MS|MO|MT|"
    "NE|NV|NH|NJ|NM|NY|NC|ND|OH|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|GU|VI"
)
#: State abbreviations that are also everyday words or acronyms ("ID 12345", "PR
#: 12873"): before a ZIP they count only when the ZIP is in the state's range.
_AMBIGUOUS_STATES = {
    "AL": ("35", "36"),
    "CO": ("80", "81"),
    "DE": ("19",),
    "HI": ("96",),
    "ID": ("83",),
    "IN": ("46", "47"),
    "LA": ("70", "71"),
    "MA": ("01", "02"),
    "ME": ("03", "04"),
    "OK": ("73", "74"),
    "OR": ("97",),
    "PA": ("15", "16", "17", "18", "19"),
    "PR": ("00",),
}


def _zip_in_state_range(match: re.Match[str]) -> bool:
    return match.group("v").startswith(_AMBIGUOUS_STATES[match.group("s")])


_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|"
    "Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|"
    "Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|"
    "New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|"
    "Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|"
    "Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|"
    "District of Columbia|Puerto Rico|Guam"
)
_ZIP = r"\d{5}(?:-\d{4})?"
_ZIP_RULES = (
    RegexRule(
        re.compile(
            rf"(?:\b(?:{_STATES})\.?|\b(?:{_STATE_NAMES})),?[ \t]+(?P<v>{_ZIP})\b(?![-.]\d)"
        ),
        0.6,
        group="v",
    ),
    RegexRule(
        re.compile(rf"\b(?P<s>{'|'.join(_AMBIGUOUS_STATES)})\.?,?[ \t]+(?P<v>{_ZIP})\b(?![-.]\d)"),
        0.6,
        group="v",
        check=_zip_in_state_range,
    ),
    RegexRule(
        re.compile(rf"(?<![\w.-]){_ZIP}\b(?![-.]\d)"),
        0.05,
        context=re.compile(
            r"(?i)\b(?:zip|zip ?code|postal ?code|post ?code)\b\W{0,3}(?:is\W{1,3})?$"
        ),
        context_score=0.6,
    ),
    RegexRule(re.compile(r"(?<![\w.-])\d{5}-\d{4}\b(?![-.]\d)"), 0.3),
)

_ISBN13 = r"97[89][- ]?\d{1,5}[- ]?\d{1,7}[- ]?\d{1,7}[- ]?\d"
_ISBN10 = r"\d{1,5}[- ]?\d{1,7}[- ]?\d{1,7}[- ]?[\dXx]"
_ISBN_RULES = (
    RegexRule(
        re.compile(rf"\bISBN(?:-1[03])?:?[ \t]*(?P<v>{_ISBN13}|{_ISBN10})\b", re.IGNORECASE),
        0.8,
        group="v",
        validate=lambda v: len(_digits(v)) in (10, 13),
    ),
    RegexRule(
        re.compile(r"(?<![\w-])97[89]-\d{1,5}-\d{1,7}-\d{1,7}-\d\b(?!-)"), 0.6, validate=isbn_valid
    ),
    RegexRule(
        re.compile(r"(?<![\w-])\d{1,5}-\d{1,7}-\d{1,7}-[\dX]\b(?!-)"), 0.6, validate=isbn_valid
    ),
    RegexRule(re.compile(r"(?<![\w.-])97[89]\d{10}\b(?![.-]\d)"), 0.5, validate=isbn_valid),
)

_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:call|phone|tel|telephone|mobile|cell|dial|fax|sms|text|whatsapp)\b[^.\n\d]{0,20}$"
)
_PHONE_RULES = (
    # E.164 and international numbers: a leading + and 7 to 15 digits.
    RegexRule(
        re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w-])"),
        0.7,
        validate=_digit_count(7, 15),
    ),
    # NANP with separators, optional +1 and extension: (415) 555-2671, 415.555.2671 x12.
    RegexRule(
        re.compile(
            r"(?<![\w+-])(?:1[ .-]?)?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}"
            r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?\b(?![.-]\d)",
            re.IGNORECASE,
        ),
        0.6,
    ),
    # A local number: 555-0123.
    RegexRule(re.compile(r"(?<![\w+.-])[2-9]\d{2}-\d{4}\b(?![.-]\d)"), 0.4),
    # A bare NANP number counts only after a word such as "call" or "phone".
    RegexRule(
        re.compile(r"(?<![\w+.-])1?[2-9]\d{2}[2-9]\d{6}\b(?![.-]\d)"),
        0.05,
        context=_PHONE_CONTEXT,
        context_score=0.6,
    ),
)

_SUFFIXES = (
    "Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Highway|Parkway|"
    "Circle|Square|Trail|Alley|Row|Loop|Plaza|Crescent|Pike|Broadway"
)
# An abbreviation takes its full stop with it; a full word leaves the sentence's.
_ABBREVIATED_SUFFIXES = "St|Ave|Av|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Hwy|Pkwy|Cir|Sq|Trl"
_STREET_RULES = (
    RegexRule(
        re.compile(
            r"(?<![\w.-])(?:Ap(?:t|artment)?\.?\s?#?\s?)?\d{1,6}(?:-\d{1,6})?[A-Za-z]?"
            r"\s+(?:(?:\d+(?:st|nd|rd|th)|[NSEW]\.?|[A-Z][\w'.-]*)\s+){1,4}"
            rf"(?i:(?:{_SUFFIXES})\b|(?:{_ABBREVIATED_SUFFIXES})\b\.?)"
        ),
        0.6,
    ),
    RegexRule(
        re.compile(
            r"(?<![\w.-])\d{2,6}\s+(?:[a-z][\w'-]*\s+){1,2}"
            r"(?i:street|avenue|road|boulevard|lane|drive)\b"
        ),
        0.5,
    ),
)

_PO_BOX_RULES = (
    RegexRule(re.compile(r"\b(?:P\.?\s?O\.?|Post\s+Office)\s*Box\s+#?\d+\b", re.IGNORECASE), 0.7),
)

# Presidio's e-mail recognizer insists on a public suffix; addresses on an IP
# literal, an internal domain or a reserved one (RFC 2606: example, test, invalid,
# localhost) are addresses all the same.
_EMAIL_RULES = (
    RegexRule(
        re.compile(
            r"(?<![\w.+-])[\w.+-]+@(?:\[?(?:\d{1,3}\.){3}\d{1,3}\]?(?![\w.])"
            r"|(?:[A-Za-z0-9-]+\.)+(?:local|internal|corp|lan|home|intranet|localdomain|localhost|test|example|invalid)\b)",
        ),
        0.9,
    ),
)

_CARD_RULES = (
    RegexRule(
        re.compile(r"(?<![\w.-])[2-6]\d{3}(?:[ -]?\d{2,6}){2,4}(?![\w-])"), 0.9, validate=luhn_valid
    ),
)


def builtin_recognizers() -> list[RegexRecognizer]:
    return [
        RegexRecognizer("ZIP_CODE", _ZIP_RULES),
        RegexRecognizer("ISBN", _ISBN_RULES),
        RegexRecognizer("PHONE_NUMBER", _PHONE_RULES),
        RegexRecognizer("STREET_ADDRESS", _STREET_RULES),
        RegexRecognizer("PO_BOX", _PO_BOX_RULES),
        RegexRecognizer("CREDIT_CARD", _CARD_RULES),
        RegexRecognizer("EMAIL_ADDRESS", _EMAIL_RULES),
    ]


def custom_recognizers(patterns: Sequence[tuple[str, str]]) -> list[RegexRecognizer]:
    """One recognizer per tag of ``piiPatterns``; their findings score 1.0."""
    by_tag: dict[str, list[RegexRule]] = {}
    for tag, regex in patterns:
        by_tag.setdefault(tag, []).append(RegexRule(re.compile(regex), 1.0))
    return [
        RegexRecognizer(tag, rules, name=f"custom_{tag.lower()}") for tag, rules in by_tag.items()
    ]
