"""Section 6: PII scrubbing cost per KB against Presidio called directly; worker scaling.

pyllm's side is the whole scrubbing stage of a pipeline (scrubPII input, echo
provider); Presidio's side is AnalyzerEngine.analyze plus AnonymizerEngine.anonymize
on the same offline (blank spaCy) NLP engine with Presidio's default recognizers.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row
from bench.pii_cost import text_of, throughput
from component.conversation import Message, Request, Role, TextPart
from component.pipeline import build_pipeline
from component.resources import ProcessResources

SIZES = (1024, 4096, 16384)


def _presidio_direct(tmp: Path):  # type: ignore[no-untyped-def]
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_anonymizer import AnonymizerEngine

    spacy.blank("en").to_disk(tmp / "blank-en")
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(tmp / "blank-en")}])
    nlp.load()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    anonymizer = AnonymizerEngine()

    def scrub(text: str) -> str:
        return anonymizer.anonymize(
            text=text, analyzer_results=analyzer.analyze(text, language="en")
        ).text

    return scrub


async def run(*, runs: int) -> list[Row]:
    rows: list[Row] = []
    resources = ProcessResources()
    pipeline = await asyncio.to_thread(build_pipeline, "pii", {"scrubPII": "input"}, resources)
    with tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        presidio = _presidio_direct(Path(tmp))
        for size in SIZES:
            text = text_of(size)
            request = Request(messages=(Message(Role.HUMAN, (TextPart(text),)),))
            await pipeline.converse(request)
            presidio(text)
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(runs):  # alternate, so noise hits both
                started = time.perf_counter()
                await pipeline.converse(request)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                presidio(text)
                theirs.append(time.perf_counter() - started)
            kb = size / 1024
            p_ours, p_theirs = (
                statistics.median(ours) / kb * 1e3,
                statistics.median(theirs) / kb * 1e3,
            )
            ratio = p_ours / p_theirs
            rows.append(
                Row(
                    "6 PII",
                    f"{size // 1024} KB: ms per KB Presidio / pyllm",
                    f"{p_theirs:.2f} / {p_ours:.2f}",
                    "",
                    None,
                )
            )
            rows.append(
                Row(
                    "6 PII",
                    f"{size // 1024} KB: overhead",
                    f"{(ratio - 1) * 100:+.0f}%",
                    "<= +10%",
                    ratio <= 1.10,
                )
            )
    await pipeline.aclose()
    resources.pii.close()
    one = await throughput(1, size=4096, total=200, concurrency=8)
    two = await throughput(2, size=4096, total=200, concurrency=8)
    rows.append(
        Row("6 PII", "4 KB throughput, 1 / 2 workers", f"{one:.0f} / {two:.0f} KB/s", "", None)
    )
    rows.append(
        Row(
            "6 PII",
            "scaling 2 workers / 1",
            f"{two / one:.2f}x",
            "near 2x (>= 1.6x)",
            two / one >= 1.6,
        )
    )
    return rows
