"""The response cache stage in-process, over a real diskcache folder.

Upstream calls are counted by :class:`CountingProvider` (a fake of our own
Provider interface); the store is the real diskcache backend in a temporary
folder, and every fault is a real one (a file where the folder should be, a
folder removed under the cache, garbage bytes in the database).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import diskcache
import pytest

from component.cache.disk import SECRET_FILE, DiskCacheBackend, parse_size
from component.cache.entry import Answer
from component.cache.guard import GuardedStore
from component.cache.memory import MemoryTier
from component.conversation import (
    FunctionDefinition,
    Message,
    Request,
    Response,
    Role,
    TextPart,
    Tool,
)
from component.errors import InvalidRequestError
from component.metrics import Metrics
from component.resources import ProcessResources
from component.settings import Properties
from component.stages.cache import ResponseCache
from tests.support.cache import (
    PII_VALUES,
    PROMPTS,
    CountingProvider,
    Rig,
    ask,
    plaintext_in_folder,
)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cache"
    yield path
    if path.exists():
        assert plaintext_in_folder(path, (*PROMPTS, *PII_VALUES)) == {}


def content(response: Any) -> str:
    return str(response.outputs[0].choices[0].message.content)


async def test_miss_then_hit_returns_the_original_answer_and_usage(folder: Path) -> None:
    rig = Rig(folder)
    first = await rig.cache.converse(ask(PROMPTS[0]))
    second = await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 1
    assert second == first
    assert content(second) == f"1: {PROMPTS[0]}"
    assert second.usage is not None
    assert (second.usage.prompt_tokens, second.usage.total_tokens) == (10, 11)
    assert (rig.events("miss"), rig.events("store"), rig.events("hit")) == (1, 1, 1)
    await rig.cache.aclose()
    assert rig.provider.closed


async def test_an_echoed_context_id_is_the_callers_own(folder: Path) -> None:
    rig = Rig(folder)
    await rig.cache.converse(ask(PROMPTS[0], context_id="first-caller"))
    hit = await rig.cache.converse(ask(PROMPTS[0], context_id="second-caller"))
    assert rig.provider.calls == 1
    assert hit.context_id == "second-caller"
    await rig.cache.aclose()


async def test_entries_expire_after_the_ttl(folder: Path) -> None:
    rig = Rig(folder, ttl=0.2)
    await rig.cache.converse(ask(PROMPTS[0]))
    await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 1
    await asyncio.sleep(0.4)
    again = await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 2
    assert content(again).startswith("2:")
    await rig.cache.aclose()


_TOOL = Tool(FunctionDefinition(name="lookup", parameters={"properties": {"q": {}}}))
_BASE = ask(PROMPTS[1], temperature=0.2, tools=(_TOOL,), parameters={"top_p": 0.9})


@dataclass
class Variant:
    reason: str
    request: Request


DIFFERENT = [
    Variant(
        "another model (after the request's override)",
        dataclasses.replace(_BASE, metadata={"model": "model-b"}),
    ),
    Variant("another temperature", dataclasses.replace(_BASE, temperature=0.3)),
    Variant("no tools", dataclasses.replace(_BASE, tools=None)),
    Variant("an empty tool list", dataclasses.replace(_BASE, tools=())),
    Variant(
        "another tool",
        dataclasses.replace(_BASE, tools=(_TOOL, Tool(FunctionDefinition(name="other")))),
    ),
    Variant(
        "another tool description",
        dataclasses.replace(
            _BASE, tools=(Tool(dataclasses.replace(_TOOL.function, description="x")),)
        ),
    ),
    Variant("another parameter value", dataclasses.replace(_BASE, parameters={"top_p": 0.8})),
    Variant("one more parameter", dataclasses.replace(_BASE, parameters={"top_p": 0.9, "seed": 1})),
    Variant("a tool choice", dataclasses.replace(_BASE, tool_choice="required")),
    Variant(
        "a response format", dataclasses.replace(_BASE, response_format={"type": "json_object"})
    ),
    Variant("other metadata", dataclasses.replace(_BASE, metadata={"user": "u1"})),
    Variant("another text", dataclasses.replace(_BASE, messages=ask(PROMPTS[2]).messages)),
    Variant(
        "another role",
        dataclasses.replace(_BASE, messages=(Message(Role.SYSTEM, (TextPart(PROMPTS[1]),)),)),
    ),
    Variant("no message list", dataclasses.replace(_BASE, messages=None)),
]


@pytest.mark.parametrize("variant", DIFFERENT, ids=[v.reason for v in DIFFERENT])
async def test_what_changes_the_answer_makes_another_entry(folder: Path, variant: Variant) -> None:
    rig = Rig(folder)
    await rig.cache.converse(_BASE)
    await rig.cache.converse(variant.request)
    assert rig.provider.calls == 2, variant.reason
    await rig.cache.converse(variant.request)
    assert rig.provider.calls == 2, "the variant is cached in turn"
    await rig.cache.aclose()


SAME = [
    Variant("a deadline", dataclasses.replace(_BASE, deadline=1e12)),
    Variant("another context id", dataclasses.replace(_BASE, context_id="ctx-9")),
    Variant("cache control metadata", dataclasses.replace(_BASE, metadata={"cacheTTL": "5m"})),
    Variant(
        "prompt cache retention",
        dataclasses.replace(_BASE, prompt_cache_retention=timedelta(hours=1)),
    ),
]


@pytest.mark.parametrize("variant", SAME, ids=[v.reason for v in SAME])
async def test_what_does_not_change_the_answer_shares_the_entry(
    folder: Path, variant: Variant
) -> None:
    rig = Rig(folder)
    await rig.cache.converse(_BASE)
    await rig.cache.converse(variant.request)
    assert rig.provider.calls == 1, variant.reason
    await rig.cache.aclose()


async def test_two_instances_on_one_folder_do_not_share(folder: Path) -> None:
    chat, other = Rig(folder, instance="chat"), Rig(folder, instance="other")
    await chat.cache.converse(ask(PROMPTS[0]))
    await other.cache.converse(ask(PROMPTS[0]))
    assert (chat.provider.calls, other.provider.calls) == (1, 1)
    await other.cache.converse(ask(PROMPTS[0]))
    assert other.provider.calls == 1
    await chat.cache.aclose()
    await other.cache.aclose()


async def test_request_ttl_zero_stores_nothing_but_still_reads(folder: Path) -> None:
    rig = Rig(folder)
    await rig.cache.converse(ask(PROMPTS[0], metadata={"cacheTTL": "0"}))
    await rig.cache.converse(ask(PROMPTS[0], metadata={"cacheTTL": "0"}))
    assert rig.provider.calls == 2
    assert rig.events("store") == 0
    await rig.cache.converse(ask(PROMPTS[0]))  # stored now
    hit = await rig.cache.converse(ask(PROMPTS[0], metadata={"CACHETTL": "0"}))
    assert rig.provider.calls == 3
    assert content(hit).startswith("3:")
    await rig.cache.aclose()


async def test_request_ttl_overrides_the_instance_ttl(folder: Path) -> None:
    rig = Rig(folder, ttl=3600)
    await rig.cache.converse(ask(PROMPTS[0], metadata={"cacheTTL": "200ms"}))
    await asyncio.sleep(0.4)
    await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 2
    await rig.cache.aclose()


async def test_bypass_neither_reads_nor_writes(folder: Path) -> None:
    rig = Rig(folder)
    await rig.cache.converse(ask(PROMPTS[0]))
    bypassed = await rig.cache.converse(ask(PROMPTS[0], metadata={"cacheControl": "bypass"}))
    assert content(bypassed).startswith("2:")
    await rig.cache.converse(ask(PROMPTS[1], metadata={"cacheControl": "Bypass"}))
    await rig.cache.converse(ask(PROMPTS[1]))
    assert rig.provider.calls == 4, "the bypassed answer was not stored"
    assert rig.events("bypass") == 2
    hit = await rig.cache.converse(ask(PROMPTS[0]))
    assert content(hit).startswith("1:"), "the old entry is untouched"
    await rig.cache.aclose()


async def test_refresh_asks_again_and_stores_the_new_answer(folder: Path) -> None:
    rig = Rig(folder)
    await rig.cache.converse(ask(PROMPTS[0]))
    fresh = await rig.cache.converse(ask(PROMPTS[0], metadata={"cacheControl": "refresh"}))
    assert content(fresh).startswith("2:")
    later = await rig.cache.converse(ask(PROMPTS[0]))
    assert content(later).startswith("2:")
    assert rig.provider.calls == 2
    await rig.cache.aclose()


@dataclass
class BadControl:
    reason: str
    metadata: dict[str, str]
    message: str


BAD_CONTROL = [
    BadControl(
        "ttl not a duration", {"cacheTTL": "soon"}, "metadata 'cacheTTL': 'soon' is not a duration"
    ),
    BadControl("ttl without unit", {"cacheTTL": "30"}, "use Go syntax such as 30s"),
    BadControl("negative ttl", {"cacheTTL": "-1s"}, "of zero or more"),
    BadControl(
        "unknown mode",
        {"cacheControl": "no-cache"},
        "'no-cache' is not one of default, bypass, refresh",
    ),
]


@pytest.mark.parametrize("case", BAD_CONTROL, ids=[c.reason for c in BAD_CONTROL])
async def test_invalid_cache_control_names_the_key(folder: Path, case: BadControl) -> None:
    rig = Rig(folder)
    with pytest.raises(InvalidRequestError, match=case.message):
        await rig.cache.converse(ask(PROMPTS[0], metadata=case.metadata))
    assert rig.provider.calls == 0
    await rig.cache.aclose()


async def test_the_control_keys_stay_with_the_cache(folder: Path) -> None:
    rig = Rig(folder)
    metadata = {"cacheTTL": "1m", "CacheControl": "refresh", "user": "u1"}
    await rig.cache.converse(ask(PROMPTS[0], metadata=metadata))
    assert rig.provider.last is not None
    assert dict(rig.provider.last.metadata) == {"user": "u1"}
    await rig.cache.aclose()


async def test_forwards_features_and_identity(folder: Path) -> None:
    rig = Rig(folder)
    assert rig.cache.features == ("counting",)
    assert rig.cache.identity(ask("x"))["model"] == "model-a"
    await rig.cache.aclose()


# --- the key secret -------------------------------------------------------------


async def test_generated_secret_is_private_and_shared_through_the_folder(folder: Path) -> None:
    writer, reader = Rig(folder), Rig(folder)  # as two processes mounting one folder
    await writer.cache.converse(ask(PROMPTS[0]))
    hit = await reader.cache.converse(ask(PROMPTS[0]))
    assert reader.provider.calls == 0
    assert content(hit).startswith("1:")
    secret = folder / SECRET_FILE
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(secret.read_text())) == 32
    await writer.cache.aclose()
    await reader.cache.aclose()


async def test_configured_secret_writes_no_file_and_another_secret_misses(folder: Path) -> None:
    one = Rig(folder, secret=b"0123456789abcdef-first")
    two = Rig(folder, secret=b"0123456789abcdef-second")
    await one.cache.converse(ask(PROMPTS[0]))
    await two.cache.converse(ask(PROMPTS[0]))
    assert two.provider.calls == 1
    assert not (folder / SECRET_FILE).exists()
    await one.cache.aclose()
    await two.cache.aclose()


async def test_a_malformed_secret_file_degrades_to_pass_through(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder.mkdir()
    (folder / SECRET_FILE).write_text("not hex")
    rig = Rig(folder)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 3
    assert "is malformed: delete it" in caplog.text
    await rig.cache.aclose()


# --- faults ---------------------------------------------------------------------


async def test_a_corrupt_entry_is_a_miss_and_is_overwritten(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(folder)
    await rig.cache.converse(ask(PROMPTS[0]))
    with diskcache.Cache(str(folder)) as raw:
        (key,) = list(raw.iterkeys())
        raw.set(key, b"\x01" + b"garbage" * 10)
    with caplog.at_level(logging.WARNING):
        answer = await rig.cache.converse(ask(PROMPTS[0]))
    assert content(answer).startswith("2:")
    assert rig.errors("decode") == 1
    assert "unreadable entry" in caplog.text
    hit = await rig.cache.converse(ask(PROMPTS[0]))
    assert content(hit).startswith("2:")
    assert rig.provider.calls == 2
    await rig.cache.aclose()


async def test_a_corrupt_database_file_is_moved_aside(folder: Path) -> None:
    first = Rig(folder)
    await first.cache.converse(ask(PROMPTS[0]))
    await first.cache.aclose()
    with (folder / "cache.db").open("r+b") as db:
        db.write(b"this is no SQLite database" * 200)
    rig = Rig(folder)
    for _ in range(3):
        await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls >= 1
    assert (folder / "cache.db.corrupt").exists()
    assert rig.errors("get") + rig.errors("secret") >= 1
    # Once moved aside, the cache works again from a fresh database.
    await _until_stored(rig, ask(PROMPTS[1]))
    calls = rig.provider.calls
    await rig.cache.converse(ask(PROMPTS[1]))
    assert rig.provider.calls == calls
    await rig.cache.aclose()


async def test_a_vanished_folder_is_recreated(folder: Path) -> None:
    rig = Rig(folder)
    await rig.cache.converse(ask(PROMPTS[0]))
    shutil.rmtree(folder)
    answer = await rig.cache.converse(ask(PROMPTS[0]))
    assert content(answer).startswith("2:")
    assert (folder / "cache.db").exists()
    again = await rig.cache.converse(ask(PROMPTS[0]))
    assert content(again).startswith("2:")
    assert rig.provider.calls == 2
    # Another process opening the recreated folder reads the new entry.
    other = Rig(folder)
    assert content(await other.cache.converse(ask(PROMPTS[0]))).startswith("2:")
    await rig.cache.aclose()
    await other.cache.aclose()


async def test_an_unusable_folder_passes_through_logs_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "cache"
    folder.write_text("a file where the cache folder should be")
    rig = Rig(folder, retry=0.05)
    with caplog.at_level(logging.INFO, logger="component.cache.guard"):
        for _ in range(5):
            assert content(await rig.cache.converse(ask(PROMPTS[0]))).endswith(PROMPTS[0])
        assert rig.provider.calls == 5
        assert rig.errors("secret") >= 1
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, "one warning per episode"
        folder.unlink()
        await _until_stored(rig, ask(PROMPTS[0]))
    assert "is back after" in caplog.text
    calls = rig.provider.calls
    await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == calls
    await rig.cache.aclose()
    assert plaintext_in_folder(folder, (*PROMPTS, *PII_VALUES)) == {}


async def test_the_size_limit_evicts_old_entries(folder: Path) -> None:
    metrics = Metrics()
    backend = DiskCacheBackend(folder, size_limit=256 * 1024, timeout=5.0)
    store = GuardedStore(backend, instance="chat", metrics=metrics, retry_interval=1)
    provider = CountingProvider()
    cache = ResponseCache(provider, instance="chat", store=store, ttl=60, metrics=metrics)
    filler = "lorem ipsum " * 800  # ~10 kB an answer
    for i in range(80):
        await cache.converse(ask(f"{i} {filler}"))
    await cache.converse(ask(f"0 {filler}"))
    assert provider.calls == 81, "the oldest entry was evicted"
    await cache.converse(ask(f"79 {filler}"))
    assert provider.calls == 81, "the newest entry is kept"
    await cache.aclose()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 2 * 256 * 1024


async def test_no_prompt_or_pii_reaches_the_folder(folder: Path) -> None:
    rig = Rig(folder)
    for text in (*PROMPTS, *PII_VALUES, f"mail {PII_VALUES[0]} card {PII_VALUES[1]}"):
        await rig.cache.converse(ask(text, metadata={"user": PII_VALUES[3]}))
        await rig.cache.converse(ask(text, metadata={"user": PII_VALUES[3]}))
    assert rig.events("hit") == len(PROMPTS) + len(PII_VALUES) + 1
    await rig.cache.aclose()
    assert plaintext_in_folder(folder, (*PROMPTS, *PII_VALUES)) == {}


async def _until_stored(rig: Rig, request: Request) -> None:
    """Ask until an answer is stored (the store's retry interval may still run)."""
    for _ in range(200):
        stored = rig.events("store")
        await rig.cache.converse(request)
        if rig.events("store") > stored:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the cache never stored an answer again")


# --- settings ---------------------------------------------------------------------


@dataclass
class Setting:
    reason: str
    metadata: dict[str, str]
    cached: bool


SETTINGS = [
    Setting("no cacheTTL: off", {}, cached=False),
    Setting("cacheTTL 0: off", {"cacheTTL": "0"}, cached=False),
    Setting("cacheTTL", {"cacheTTL": "10m"}, cached=True),
    Setting("Dapr's alias", {"responseCacheTTL": "1h30m"}, cached=True),
    Setting("any case", {"CACHETTL": "30s"}, cached=True),
]


@pytest.mark.parametrize("case", SETTINGS, ids=[c.reason for c in SETTINGS])
async def test_the_cache_is_on_when_cache_ttl_is_set(tmp_path: Path, case: Setting) -> None:
    provider = CountingProvider()
    properties = Properties({**case.metadata, "cacheDir": str(tmp_path)})
    built = ResponseCache.wrap(
        provider, instance="chat", properties=properties, resources=ProcessResources()
    )
    assert isinstance(built, ResponseCache) is case.cached
    assert ("cacheDir" in properties.unread()) is not case.cached, "off: cacheDir is reported"
    await built.aclose()


def test_the_configured_secret_is_masked_in_logs(tmp_path: Path) -> None:
    resources = ProcessResources()
    secret = "a-long-operator-chosen-secret-value"
    properties = Properties({"cacheTTL": "1m", "cacheDir": str(tmp_path), "cacheKeySecret": secret})
    ResponseCache.wrap(
        CountingProvider(), instance="chat", properties=properties, resources=resources
    )
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", (secret,), None)
    resources.redactor.filter(record)
    assert secret not in record.getMessage()


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 2**20), ("512Mi", 512 * 2**20), ("500MB", 500 * 10**6), ("2gi", 2 * 2**30)],
)
def test_size_limit_forms(text: str, size: int) -> None:
    assert parse_size(text) == size


# --- the in-process tier --------------------------------------------------------


async def test_hot_entries_are_served_from_memory_without_the_store(folder: Path) -> None:
    rig = Rig(folder, memory_entries=8, memory_age=60)
    first = await rig.cache.converse(ask(PROMPTS[0]))
    shutil.rmtree(folder)  # the store no longer has it; memory still does
    again = await rig.cache.converse(ask(PROMPTS[0], context_id="later"))
    assert rig.provider.calls == 1
    assert again == dataclasses.replace(first, context_id="later")
    assert rig.events("hit") == 1
    await rig.cache.aclose()


async def test_memory_sees_another_process_refresh_within_its_max_age(folder: Path) -> None:
    reader = Rig(folder, memory_entries=8, memory_age=0.3)
    writer = Rig(folder)
    await writer.cache.converse(ask(PROMPTS[0]))
    assert content(await reader.cache.converse(ask(PROMPTS[0]))).startswith("1:")
    await writer.cache.converse(ask(PROMPTS[0], metadata={"cacheControl": "refresh"}))
    assert content(await reader.cache.converse(ask(PROMPTS[0]))).startswith("1:"), "memory"
    await asyncio.sleep(0.5)
    assert content(await reader.cache.converse(ask(PROMPTS[0]))).startswith("2:"), "store"
    assert reader.provider.calls == 0
    await reader.cache.aclose()
    await writer.cache.aclose()


async def test_memory_never_outlives_the_entry_in_the_store(folder: Path) -> None:
    writer = Rig(folder, ttl=0.3)
    reader = Rig(folder, memory_entries=8, memory_age=60)
    await writer.cache.converse(ask(PROMPTS[0]))
    await reader.cache.converse(ask(PROMPTS[0]))
    assert reader.provider.calls == 0
    await asyncio.sleep(0.5)
    await reader.cache.converse(ask(PROMPTS[0]))
    assert reader.provider.calls == 1, "expired in the store, so in memory too"
    await reader.cache.aclose()
    await writer.cache.aclose()


async def test_memory_only_mirrors_the_store(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.write_text("a file where the cache folder should be")
    rig = Rig(folder, memory_entries=8, memory_age=60)
    for _ in range(3):
        await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 3, "nothing stored, nothing remembered"
    await rig.cache.converse(ask(PROMPTS[1], metadata={"cacheTTL": "0"}))
    await rig.cache.aclose()


def test_memory_keeps_the_most_recently_used() -> None:
    now = [0.0]
    memory = MemoryTier(entries=2, max_age=10, clock=lambda: now[0])
    answers = [Answer(Response(outputs=(), model=p)) for p in PROMPTS]
    memory.put("a", answers[0], None)
    memory.put("b", answers[1], 5)
    assert memory.get("a") is answers[0]
    memory.put("c", answers[2], None)
    assert (memory.get("a"), memory.get("b"), memory.get("c")) == (answers[0], None, answers[2])
    now[0] = 10
    assert memory.get("a") is None
    assert len(memory) == 1
