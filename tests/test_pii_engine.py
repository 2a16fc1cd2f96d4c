"""The engine: offline, the NER path, and the worker processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import spacy

from component.conversation import Message, Request, Role, TextPart
from component.errors import InvalidSettingError, PiiEngineError
from component.metrics import Metrics
from component.pii.engine import PiiEngine
from component.pii.settings import AnalysisOptions, EngineSpec, read_pii_settings
from component.settings import Properties
from component.stages.scrub import PiiScrubber
from tests.support.component import ROOT
from tests.support.pii import RecordingProvider, all_strings, shared_engine
from tests.support.pii_eval import load_labelled

# --- offline -------------------------------------------------------------------


class BlackHole:
    """A TCP listener that accepts and never answers: an unreachable network's worst case.

    A client without a timeout that reaches it waits forever, which is what
    tldextract does when it fetches the public suffix list.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def offline_env(hole: BlackHole, cache: Path) -> dict[str, str]:
    """Every proxy variable at the black hole, an empty tldextract cache."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy",)}
    env.pop("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", None)
    proxy = f"http://127.0.0.1:{hole.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
    env["TLDEXTRACT_CACHE"] = str(cache)
    env["HF_HUB_OFFLINE"] = "1"
    return env


ENGINE_SCRIPT = """
import json
from component.pii.analyzer import build_detector
from component.pii.settings import AnalysisOptions, EngineSpec
detector = build_detector(EngineSpec())
text = "mail jane.roe@example.org or ops@example.co.uk, call +2222222222"
print(json.dumps([f.kind for f in detector.find(text, AnalysisOptions())]))
"""


def test_the_engine_works_with_the_network_unreachable(
    black_hole: BlackHole, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ENGINE_SCRIPT],
        cwd=ROOT,
        env=offline_env(black_hole, tmp_path / "tld"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["EMAIL_ADDRESS", "EMAIL_ADDRESS", "PHONE_NUMBER"]
    assert black_hole.connections == 0


def test_the_black_hole_catches_tldextract_when_it_is_not_told(
    black_hole: BlackHole, tmp_path: Path
) -> None:
    # The control for the test above: without pyllm's setting, tldextract goes out
    # (and would wait forever), so the black hole is a sound witness.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import tldextract; tldextract.extract('a.example.co.uk')"],
        cwd=ROOT,
        env=offline_env(black_hole, tmp_path / "tld"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if black_hole.connections or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert black_hole.connections >= 1
    finally:
        proc.kill()
        proc.wait()


# --- the NER path -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny saved spaCy pipeline: an entity ruler that knows two names and a city."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]  # spaCy's pipes are untyped here
        [
            {"label": "PERSON", "pattern": "Ada Lovelace"},
            {"label": "PERSON", "pattern": [{"LOWER": "grace"}, {"LOWER": "hopper"}]},
            {"label": "GPE", "pattern": "London"},
        ]
    )
    path = tmp_path_factory.mktemp("ner") / "pipeline"
    nlp.to_disk(path)
    return path


async def test_a_configured_model_finds_names_and_places(ner_model: Path) -> None:
    settings = read_pii_settings(
        Properties({"piiModel": str(ner_model), "scrubPII": "input", "piiMode": "pseudonymize"})
    )
    engine = shared_engine()
    engine.prepare(settings.spec)
    inner = RecordingProvider()
    stage = PiiScrubber(inner, settings=settings, engine=engine, metrics=Metrics())
    text = "Ada Lovelace met Grace Hopper in London; Ada Lovelace wrote to ada@example.org"
    await stage.converse(Request(messages=(Message(Role.HUMAN, (TextPart(text),)),)))
    assert all_strings(inner.requests[0]) == [
        "<PERSON_1> met <PERSON_2> in <LOCATION_1>; <PERSON_1> wrote to <EMAIL_ADDRESS_1>"
    ]


def test_a_package_that_is_not_a_pipeline_fails_at_prepare() -> None:
    spec = read_pii_settings(Properties({"piiModel": "json"})).spec
    with pytest.raises(InvalidSettingError) as info:
        PiiEngine().prepare(spec)
    assert str(info.value).startswith(
        "metadata field 'piiModel': 'json' could not be loaded as a spaCy pipeline: "
    )


# --- worker processes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pooled() -> Iterator[PiiEngine]:
    engine = PiiEngine(inline_chars=0)  # every call goes to a worker
    engine.start(workers=1)
    yield engine
    engine.close()


async def test_workers_find_what_the_process_finds(pooled: PiiEngine) -> None:
    texts = [item.text for item in load_labelled()][:60]
    spec, options = EngineSpec(), AnalysisOptions()
    assert await pooled.find(spec, options, texts) == await shared_engine().find(
        spec, options, texts
    )


async def test_workers_build_other_configurations_and_report_bad_ones(
    pooled: PiiEngine,
) -> None:
    spec = EngineSpec(patterns=(("EMPLOYEE_ID", r"E-\d{6}"),))
    options = AnalysisOptions(kinds=("EMPLOYEE_ID",))
    [found] = await pooled.find(spec, options, ["badge E-123456"])
    assert [(f.start, f.end, f.kind) for f in found] == [(6, 14, "EMPLOYEE_ID")]
    with pytest.raises(InvalidSettingError) as info:
        await pooled.find(EngineSpec(model="json"), options, ["x"])
    assert str(info.value).startswith("metadata field 'piiModel': 'json' could not be loaded")


async def test_a_dead_worker_fails_its_call_and_is_replaced(pooled: PiiEngine) -> None:
    [pid] = pooled.worker_pids()
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=30)
    spec, options = EngineSpec(), AnalysisOptions()
    with pytest.raises(PiiEngineError) as info:
        await pooled.find(spec, options, ["mail jane@example.org"])
    assert str(info.value) == "a PII worker died; the request was not sent on"
    [fresh] = pooled.worker_pids()
    assert fresh != pid
    [found] = await pooled.find(spec, options, ["mail jane@example.org"])
    assert [f.kind for f in found] == ["EMAIL_ADDRESS"]


PARENT_SCRIPT = """
import json, sys, time
from component.pii.engine import PiiEngine
engine = PiiEngine()
engine.start(workers=2)
print(json.dumps(engine.worker_pids()), flush=True)
time.sleep(600)
"""


def test_workers_die_with_their_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 2
        # The fork server the workers came from must go too.
        helpers = [p.pid for p in psutil.Process(parent.pid).children(recursive=True)]
        assert set(pids) <= set(helpers)
    finally:
        parent.kill()
        parent.wait()

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    for _ in range(300):
        if not any(alive(pid) for pid in helpers):
            break
        time.sleep(0.1)
    assert [pid for pid in helpers if alive(pid)] == []
