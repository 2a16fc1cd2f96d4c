"""Precision and recall of a PII scrubber on the labelled set, per kind.

The labelled set (``tests/data/pii_labelled.jsonl``) holds one text a line with
the PII values in it and their kinds (``[["EMAIL_ADDRESS", "jane@example.org"]]``);
a line without any is clean text that looks numeric (versions, order numbers,
timestamps, prices). A scrubber is judged by its output only: the spans it
replaced are recovered from the scrubbed text, so pyllm and daprd's scrubber
(which only gives back text) are measured the same way.

A gold value counts as found when a replaced span of the same kind overlaps it;
a replaced span counts as correct when it overlaps a gold value of its kind.

Run ``python -m tests.support.pii_eval`` for pyllm alone, ``--daprd`` to measure
daprd's scrubber through the project's daprd (``conversation.echo`` with
``scrubPii``) and pyllm through the same daprd, and ``--write-daprd`` to store
daprd's outputs in ``tests/data/pii_daprd_scrubbed.jsonl`` for the parity test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DAPRD_OUTPUTS",
    "LABELLED",
    "Labelled",
    "Score",
    "Span",
    "format_table",
    "load_daprd_outputs",
    "load_labelled",
    "score",
    "spans_from_scrubbed",
]

DATA = Path(__file__).resolve().parent.parent / "data"
LABELLED = DATA / "pii_labelled.jsonl"
DAPRD_OUTPUTS = DATA / "pii_daprd_scrubbed.jsonl"

_TAG = re.compile(r"<([A-Z][A-Z0-9_]*?)(?:_\d+)?>")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Labelled:
    text: str
    gold: tuple[Span, ...]


def load_labelled(path: Path = LABELLED) -> list[Labelled]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        text: str = record["text"]
        gold = []
        position = 0
        for kind, value in record["pii"]:
            start = text.index(value, position)
            gold.append(Span(start, start + len(value), kind))
            position = start + len(value)
        items.append(Labelled(text, tuple(gold)))
    return items


def load_daprd_outputs(path: Path = DAPRD_OUTPUTS) -> list[str]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def spans_from_scrubbed(original: str, scrubbed: str) -> list[Span]:
    """The spans of ``original`` that became tags in ``scrubbed``."""
    tags = [m for m in _TAG.finditer(scrubbed) if m.group(0) not in original]
    if not tags:
        return []
    pattern = []
    position = 0
    for tag in tags:
        pattern.append(re.escape(scrubbed[position : tag.start()]))
        pattern.append("(.+?)")
        position = tag.end()
    pattern.append(re.escape(scrubbed[position:]))
    match = re.fullmatch("".join(pattern), original, re.DOTALL)
    if match is None:
        raise ValueError(f"cannot align the scrubbed text with its original: {scrubbed!r}")
    return [Span(match.start(i + 1), match.end(i + 1), tag.group(1)) for i, tag in enumerate(tags)]


@dataclass
class Score:
    gold: int = 0
    found: int = 0
    detected: int = 0
    correct: int = 0
    #: Detections on lines without any PII.
    false_alarms_on_clean: int = 0
    misses: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.detected if self.detected else 1.0


def score(items: Sequence[Labelled], outputs: Sequence[str]) -> dict[str, Score]:
    """Per-kind scores (and ``ALL``) of ``outputs``, the scrubbed ``items``."""
    scores: dict[str, Score] = {}

    def of(kind: str) -> Score:
        return scores.setdefault(kind, Score())

    for item, output in zip(items, outputs, strict=True):
        found = spans_from_scrubbed(item.text, output)
        for gold in item.gold:
            s = of(gold.kind)
            s.gold += 1
            if any(d.kind == gold.kind and d.overlaps(gold) for d in found):
                s.found += 1
            else:
                s.misses.append(item.text[gold.start : gold.end])
        for detection in found:
            s = of(detection.kind)
            s.detected += 1
            if any(g.kind == detection.kind and g.overlaps(detection) for g in item.gold):
                s.correct += 1
            else:
                s.wrong.append(item.text[detection.start : detection.end])
                if not item.gold:
                    s.false_alarms_on_clean += 1
    total = Score()
    for s in scores.values():
        total.gold += s.gold
        total.found += s.found
        total.detected += s.detected
        total.correct += s.correct
        total.false_alarms_on_clean += s.false_alarms_on_clean
    scores["ALL"] = total
    return scores


def format_table(results: dict[str, dict[str, Score]]) -> str:
    """A Markdown table: one row per kind, precision and recall per scrubber."""
    names = list(results)
    kinds = [*sorted({k for r in results.values() for k in r if k != "ALL"}), "ALL"]
    head = "| kind | values | " + " | ".join(f"{n} precision | {n} recall" for n in names) + " |"
    rule = "|---|---:|" + "---:|---:|" * len(names)
    lines = [head, rule]
    for kind in kinds:
        gold = max(r[kind].gold for r in results.values() if kind in r)
        cells = []
        for name in names:
            s = results[name].get(kind, Score())
            cells.append(f"{s.precision:.2f} ({s.correct}/{s.detected})")
            cells.append(f"{s.recall:.2f} ({s.found}/{s.gold})")
        label = "**all**" if kind == "ALL" else kind
        lines.append(f"| {label} | {gold} | " + " | ".join(cells) + " |")
    clean = ", ".join(f"{n}: {results[n]['ALL'].false_alarms_on_clean}" for n in names)
    lines.append("")
    lines.append(f"False alarms on the clean lines: {clean}.")
    return "\n".join(lines)


# --- running the scrubbers ------------------------------------------------------


def scrub_with_pyllm(texts: Sequence[str]) -> list[str]:
    """pyllm's analyzer in this process, default settings, redact mode."""
    from component.pii.analyzer import build_detector
    from component.pii.replace import Replacer
    from component.pii.settings import AnalysisOptions, EngineSpec, PiiMode

    detector = build_detector(EngineSpec())
    options = AnalysisOptions()
    return [Replacer(PiiMode.REDACT).replace(t, detector.find(t, options)) for t in texts]


def _alpha2(text: str, *, scrub: bool, metadata: dict[str, str] | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "inputs": [{"messages": [{"ofUser": {"content": [{"text": text}]}}], "scrubPii": scrub}]
    }
    if metadata:
        body["metadata"] = metadata
    return body


def scrub_through_daprd(texts: Sequence[str], *, with_pyllm: bool = False) -> dict[str, list[str]]:
    """daprd's scrubber (conversation.echo, scrubPii), and pyllm through the same daprd.

    pyllm is the component with the echo provider and ``scrubPII: input``; daprd's
    own flag stays off for it, so what comes back is what pyllm let through.
    """
    from tests.support.component import ComponentProcess
    from tests.support.daprd import Daprd, component_yaml

    runs = [("daprd", "echo", True)]
    resources = {"echo.yaml": component_yaml("echo", "conversation.echo")}
    if with_pyllm:
        runs.append(("pyllm via daprd", "pyllm", False))
        resources["pyllm.yaml"] = component_yaml(
            "pyllm", "conversation.pyllm", {"provider": "echo", "scrubPII": "input"}
        )
    outputs: dict[str, list[str]] = {name: [] for name, _, _ in runs}
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pii-eval-")))
        sockets = work / "s"
        sockets.mkdir()
        if with_pyllm:
            stack.enter_context(ComponentProcess(sockets, args=["--metrics-port", "0"]))
        daprd = stack.enter_context(Daprd(work, sockets_folder=sockets, resources=resources))
        for text in texts:
            for name, component, scrub in runs:
                answer = daprd.converse(component, _alpha2(text, scrub=scrub))
                answer.raise_for_status()
                outputs[name].append(
                    answer.json()["outputs"][0]["choices"][0]["message"]["content"]
                )
    return outputs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daprd", action="store_true", help="measure daprd's scrubber too")
    parser.add_argument(
        "--pyllm-via-daprd", action="store_true", help="also measure pyllm through daprd"
    )
    parser.add_argument(
        "--write-daprd", action="store_true", help=f"store daprd's outputs in {DAPRD_OUTPUTS}"
    )
    parser.add_argument("--misses", action="store_true", help="list misses and false alarms")
    parser.add_argument(
        "--labelled",
        type=Path,
        default=LABELLED,
        help="the labelled set (default: the development set; tests/data/pii_heldout.jsonl "
        "was written after the recognizers and never tuned against)",
    )
    args = parser.parse_args(argv)
    if args.write_daprd and args.labelled != LABELLED:
        parser.error("--write-daprd records the development set only")
    items = load_labelled(args.labelled)
    texts = [item.text for item in items]
    results = {"pyllm": score(items, scrub_with_pyllm(texts))}
    if args.daprd or args.write_daprd:
        through = scrub_through_daprd(texts, with_pyllm=args.pyllm_via_daprd)
        results.update({name: score(items, outputs) for name, outputs in through.items()})
        if args.write_daprd:
            DAPRD_OUTPUTS.write_text(
                "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in through["daprd"]),
                encoding="utf-8",
            )
    elif DAPRD_OUTPUTS.exists() and args.labelled == LABELLED:
        results["daprd (stored)"] = score(items, load_daprd_outputs())
    print(format_table(results))
    if args.misses:
        for name, result in results.items():
            for kind, s in sorted(result.items()):
                if kind != "ALL" and (s.misses or s.wrong):
                    print(f"\n{name} {kind}: missed {s.misses}; wrong {s.wrong}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
