"""End to end: pyllm's scrubbing against daprd's own, both through the project's daprd.

daprd's scrubber is its built-in ``conversation.echo`` with ``scrubPii``; pyllm is
the ``conversation.pyllm`` component (echo provider) asked to scrub by the
request's metadata. Both answer with what reached the model.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.pii_eval import load_daprd_outputs, load_labelled, score, spans_from_scrubbed

pytestmark = pytest.mark.e2e


def body(text: str, *, scrub: bool, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "inputs": [{"messages": [{"ofUser": {"content": [{"text": text}]}}], "scrubPii": scrub}],
        "metadata": metadata or {},
    }


def content(stack: Stack, component: str, payload: dict[str, Any]) -> str:
    answer = stack.daprd.converse(component, payload)
    assert answer.status_code == 200, answer.text
    text: str = answer.json()["outputs"][0]["choices"][0]["message"]["content"]
    return text


def test_daprds_scrubber_still_answers_as_recorded(stack: Stack) -> None:
    # The parity unit test reads these recorded outputs; they must be daprd's own.
    items = load_labelled()
    live = [content(stack, "echo", body(item.text, scrub=True)) for item in items]
    assert live == load_daprd_outputs()


def test_pyllm_through_daprd_finds_whatever_daprds_scrubber_finds(stack: Stack) -> None:
    items = load_labelled()
    ours = [
        content(stack, "pyllm", body(item.text, scrub=False, metadata={"scrubPII": "input"}))
        for item in items
    ]
    for item, mine, theirs in zip(items, ours, load_daprd_outputs(), strict=True):
        their_spans = spans_from_scrubbed(item.text, theirs)
        my_spans = spans_from_scrubbed(item.text, mine)
        for gold in item.gold:
            if any(s.kind == gold.kind and s.overlaps(gold) for s in their_spans):
                assert any(s.kind == gold.kind and s.overlaps(gold) for s in my_spans), mine
    mine_scored = score(items, ours)
    theirs_scored = score(items, load_daprd_outputs())
    assert mine_scored["ALL"].false_alarms_on_clean < theirs_scored["ALL"].false_alarms_on_clean
    assert mine_scored["ALL"].recall > theirs_scored["ALL"].recall
