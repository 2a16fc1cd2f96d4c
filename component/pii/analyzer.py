"""Presidio's analyzer, built offline from an :class:`EngineSpec`, and the detector on top.

Presidio's default NLP engine wants ``en_core_web_lg`` and downloads it when it
is missing. pyllm never downloads: without ``piiModel`` the tokenizer is a blank
English spaCy pipeline (enough for the pattern and checksum recognizers and for
context words), with ``piiModel`` it is that package or saved folder, loaded
with ``spacy.load`` and nothing else.

:class:`Detector` turns Presidio's overlapping, Presidio-named results into
non-overlapping :class:`Finding` s with pyllm's tags, applying the score threshold
and the allow-list.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Sequence

import phonenumbers
import spacy
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    DateRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    MedicalLicenseRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
    UuidRecognizer,
)

from component.errors import InvalidSettingError
from component.pii.kinds import NER_KINDS, PRESIDIO_ALIASES, Finding
from component.pii.recognizers import builtin_recognizers, custom_recognizers
from component.pii.settings import AnalysisOptions, EngineSpec

__all__ = ["Detector", "build_detector"]

log = logging.getLogger(__name__)

_LANGUAGE = "en"
_TO_PRESIDIO = {ours: theirs for theirs, ours in PRESIDIO_ALIASES.items()}

#: A text with one of every pattern kind: the first analysis pays for compiling
#: regexes and loading libphonenumber's metadata, so it happens at build time.
_WARM_UP = (
    "Mail jane.roe@example.org or call +1 (415) 555-2671 / +44 20 7946 0958; card "
    "4111 1111 1111 1111, SSN 536-22-1234, IBAN DE89 3704 0044 0532 0130 00, host "
    "10.0.0.1 (00:1A:2B:3C:4D:5E), ISBN 978-0-306-40615-7, 1600 Amphitheatre Parkway, "
    "Mountain View, CA 94043, P.O. Box 123, on 2024-01-05 at https://example.org."
)


class _Keywords(list[str]):
    """Presidio's keyword list with a set's ``in``: its context search asks ``in``
    once per word around every finding, quadratic in the text's length."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(words)
        self._set = frozenset(words)

    def __contains__(self, word: object) -> bool:
        return word in self._set


class _OfflineSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over a pipeline we load ourselves, never downloaded.

    A blank pipeline has no lemmatizer, and Presidio compares context words with
    lemmas; the lower-cased token stands in where a lemma is missing.
    """

    def __init__(self, model: str | None) -> None:
        super().__init__(models=[{"lang_code": _LANGUAGE, "model_name": model or "blank:en"}])
        self._model = model

    def load(self) -> None:
        if self._model is None:
            # Presidio annotates nlp as None (its value before load()).
            self.nlp = {_LANGUAGE: spacy.blank(_LANGUAGE)}  # type: ignore[assignment]
            return
        try:
            self.nlp = {_LANGUAGE: spacy.load(self._model)}  # type: ignore[assignment]
        except (OSError, ValueError, ImportError) as exc:
            raise InvalidSettingError(
                "piiModel", f"{self._model!r} could not be loaded as a spaCy pipeline: {exc}"
            ) from exc

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return self._with_lemmas(super().process_text(text, language), language)

    def _with_lemmas(self, artifacts: NlpArtifacts, language: str) -> NlpArtifacts:
        if any(not lemma for lemma in artifacts.lemmas):
            artifacts.lemmas = [
                lemma or token.lower_
                for lemma, token in zip(artifacts.lemmas, artifacts.tokens, strict=True)
            ]
            artifacts.keywords = NlpArtifacts.set_keywords(self, artifacts.lemmas, language)
        artifacts.keywords = _Keywords(artifacts.keywords)
        return artifacts


class _ContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer, finding a match's token by bisection.

    Presidio scans every token for every finding, quadratic in the text's length:
    on a 10 KB text that was half of the analysis time.
    """

    def _extract_surrounding_words(
        self, nlp_artifacts: NlpArtifacts, word: str, start: int
    ) -> list[str]:
        del word
        indices: list[int] = nlp_artifacts.tokens_indices
        if not indices:
            return [""]
        index = max(0, bisect.bisect_right(indices, start) - 1)
        if start >= indices[index] + len(nlp_artifacts.tokens[index]):
            index = min(index + 1, len(indices) - 1)
        keywords = nlp_artifacts.keywords
        words = [
            *self._add_n_words_backward(
                index, self.context_prefix_count, nlp_artifacts.lemmas, keywords
            ),
            *self._add_n_words_forward(
                index, self.context_suffix_count, nlp_artifacts.lemmas, keywords
            ),
        ]
        return list(set(words))


class _PhoneRecognizer(PhoneRecognizer):
    """Presidio's libphonenumber recognizer, run only where a phone number can be.

    Presidio parses every number-like token once per region (eight), most of the
    analysis time on ordinary text. Here only runs of at least seven digits with
    little between them (and one character either side, which the matcher looks
    at) are parsed, and a run stops at the first region that finds a number in it.

    A bare run of digits (``8801234567``) is an order number or a timestamp as often
    as a phone number: it scores below the default threshold unless a context word
    (``call``, ``phone``, ``mobile``...) lifts it.
    """

    BARE_SCORE = 0.2

    _RUN = re.compile(r"[+(]?\d(?:[\d \t().\-/]*\d){6,}")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        del entities, nlp_artifacts
        results: list[RecognizerResult] = []
        for run in self._RUN.finditer(text):
            offset = max(0, run.start() - 1)
            window = text[offset : min(len(text), run.end() + 1)]
            for region in self.supported_regions:
                matches = list(
                    phonenumbers.PhoneNumberMatcher(window, region, leniency=self.leniency or 0)
                )
                results.extend(self._result(offset, match, region) for match in matches)
                if matches:
                    break
        return results

    def _result(
        self, offset: int, match: phonenumbers.PhoneNumberMatch, region: str
    ) -> RecognizerResult:
        score = self.BARE_SCORE if match.raw_string.isdigit() else self.SCORE
        return RecognizerResult(
            entity_type=self.supported_entities[0],
            start=offset + match.start,
            end=offset + match.end,
            score=score,
            # Presidio's context enhancer writes into the explanation.
            analysis_explanation=AnalysisExplanation(
                recognizer="PhoneRecognizer",
                original_score=score,
                textual_explanation=f"{region} phone number (libphonenumber)",
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: "PhoneRecognizer",
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _registry(spec: EngineSpec, nlp_engine: _OfflineSpacyEngine) -> RecognizerRegistry:
    recognizers = [
        CreditCardRecognizer(),
        EmailRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        MacAddressRecognizer(),
        _PhoneRecognizer(),
        UsSsnRecognizer(),
        UrlRecognizer(),
        DateRecognizer(),
        CryptoRecognizer(),
        UuidRecognizer(),
        UsPassportRecognizer(),
        UsBankRecognizer(),
        UsLicenseRecognizer(),
        UsItinRecognizer(),
        NhsRecognizer(),
        MedicalLicenseRecognizer(),
        *builtin_recognizers(),
        *custom_recognizers(spec.patterns),
    ]
    if spec.model is not None:
        recognizers.append(SpacyRecognizer(supported_entities=[*NER_KINDS, "DATE_TIME"]))
    del nlp_engine  # the registry does not need it once the NER recognizer is chosen
    return RecognizerRegistry(recognizers=recognizers, supported_languages=[_LANGUAGE])


class Detector:
    """Finds PII in texts with one analyzer; thread-compatible, not thread-safe."""

    def __init__(self, analyzer: AnalyzerEngine) -> None:
        self._analyzer = analyzer

    def find(self, text: str, options: AnalysisOptions) -> list[Finding]:
        """Non-overlapping findings in ``text``, ordered by position."""
        if not text.strip():
            return []
        entities = [_TO_PRESIDIO.get(kind, kind) for kind in options.kinds]
        results: list[RecognizerResult] = self._analyzer.analyze(
            text=text, language=_LANGUAGE, entities=entities
        )
        allowed = set(options.allow_list)
        candidates = [
            Finding(r.start, r.end, PRESIDIO_ALIASES.get(r.entity_type, r.entity_type), r.score)
            for r in results
            if r.score >= options.threshold and text[r.start : r.end] not in allowed
        ]
        return _without_overlaps(candidates)

    def find_all(self, texts: Iterable[str], options: AnalysisOptions) -> list[list[Finding]]:
        return [self.find(text, options) for text in texts]


def _without_overlaps(candidates: Sequence[Finding]) -> list[Finding]:
    """Keep the best of overlapping findings: higher score, then longer, then earlier."""
    ranked = sorted(candidates, key=lambda f: (-f.score, -(f.end - f.start), f.start, f.kind))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept)


def build_detector(spec: EngineSpec) -> Detector:
    """Build and warm an analyzer for ``spec``; raise InvalidSettingError if it cannot be."""
    nlp_engine = _OfflineSpacyEngine(spec.model)
    nlp_engine.load()
    analyzer = AnalyzerEngine(
        registry=_registry(spec, nlp_engine),
        nlp_engine=nlp_engine,
        supported_languages=[_LANGUAGE],
        context_aware_enhancer=_ContextEnhancer(),
    )
    detector = Detector(analyzer)
    everything = AnalysisOptions(
        kinds=tuple(
            {PRESIDIO_ALIASES.get(e, e) for e in analyzer.get_supported_entities(_LANGUAGE)}
        ),
        threshold=0.0,
    )
    detector.find(_WARM_UP, everything)
    log.debug("PII analyzer built (model: %s, %d custom tags)", spec.model, len(spec.patterns))
    return detector
