"""tiktoken encodings from the local cache only: a loadable one the tests build,
missing and corrupt files, the model table, and the counting rules."""

from __future__ import annotations

import hashlib
import inspect
import logging
from pathlib import Path

import pytest
from tiktoken_ext import openai_public

from component.conversation import (
    Choice,
    FunctionCall,
    FunctionDefinition,
    Message,
    Output,
    Request,
    Response,
    ResultMessage,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
)
from component.tokens import (
    TokenEncodings,
    count_completion_tokens,
    count_prompt_tokens,
    encoding_for_model,
    openai_sources,
    tiktoken_cache_dir,
)
from tests.support.tiny_bpe import TINY, TINY_URL, install_tiny_encoding


def cache_key(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tiktoken"
    folder.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    return folder


def test_a_built_encoding_loads_through_tiktokens_loader(cache_dir: Path) -> None:
    encodings = TokenEncodings({TINY: install_tiny_encoding(cache_dir)})
    assert encodings.problem(TINY) is None
    encoding = encodings.get(TINY)
    assert encoding is not None
    assert encoding.name == TINY
    assert encoding.encode_ordinary("hello") == [259]
    assert encodings.get(TINY) is encoding  # loaded once
    # tiktoken read the file where it caches downloads, and wrote nothing else.
    assert [p.name for p in cache_dir.iterdir()] == [cache_key(TINY_URL)]


async def test_aget_loads_off_the_event_loop(cache_dir: Path) -> None:
    encodings = TokenEncodings({TINY: install_tiny_encoding(cache_dir)})
    first = await encodings.aget(TINY)
    assert first is not None
    assert await encodings.aget(TINY) is first


def test_a_missing_encoding_warns_once_and_is_none(
    cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    encodings = TokenEncodings()
    assert encodings.get("o200k_base") is None
    assert encodings.get("o200k_base") is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    expected = cache_dir / cache_key(openai_sources()["o200k_base"].url)
    assert "tiktoken encoding o200k_base is not available offline" in text
    assert f"{expected} is missing" in text
    assert "maxInputTokens cannot be enforced" in text
    assert list(cache_dir.iterdir()) == []  # nothing was downloaded


def test_a_corrupt_file_is_refused_and_kept(cache_dir: Path) -> None:
    source = install_tiny_encoding(cache_dir)
    path = cache_dir / cache_key(TINY_URL)
    path.write_bytes(path.read_bytes() + b"aGk= 999\n")
    encodings = TokenEncodings({TINY: source})
    problem = encodings.problem(TINY)
    assert problem is not None
    assert "its SHA-256 differs" in problem
    assert encodings.get(TINY) is None
    assert path.exists()  # tiktoken would have deleted it and downloaded again


def test_cache_dir_follows_tiktoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path))
    assert tiktoken_cache_dir() == tmp_path
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tiktoken_cache_dir() is None
    assert "turns tiktoken's cache off" in (TokenEncodings().problem("cl100k_base") or "")


def test_unknown_encoding_names_the_known_ones() -> None:
    problem = TokenEncodings().problem("gpt2")
    assert (
        problem
        == "unknown encoding 'gpt2': use one of o200k_base, cl100k_base, p50k_base, r50k_base"
    )


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base", "p50k_base", "r50k_base"])
def test_sources_match_tiktokens_constructors(name: str) -> None:
    # The URL and hash decide where the file is looked for; a tiktoken upgrade
    # that moves them must fail here, not silently at run time.
    source = openai_sources()[name]
    code = inspect.getsource(openai_public.ENCODING_CONSTRUCTORS[name])
    assert f'"{source.url}"' in code
    assert f'"{source.sha256}"' in code


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("ft:gpt-4o-mini:org::id", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("GPT-4O", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("llama3.2:latest", "cl100k_base"),
        ("omni-moderation", "cl100k_base"),
        ("", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


def test_counting_rules(cache_dir: Path) -> None:
    encoding = TokenEncodings({TINY: install_tiny_encoding(cache_dir)}).get(TINY)
    assert encoding is not None
    one = Request(messages=(Message(Role.HUMAN, (TextPart("hello"),)),))
    # 3 to prime the reply + per message 3 + "user" (4) + "hello" (1)
    assert count_prompt_tokens(encoding, one) == 3 + 3 + 4 + 1
    # Special-token text is ordinary text in a prompt.
    special = Request(messages=(Message(Role.HUMAN, (TextPart("<|endoftext|>"),)),))
    assert count_prompt_tokens(encoding, special) == 3 + 3 + 4 + 13

    call = ToolCall("c1", "function", FunctionCall("hello", "hi"))
    many = Request(
        messages=(
            Message(Role.AI, (call,)),  # "assistant" 9, "hello" 1, "hi" 2
            Message(
                Role.TOOL, (ToolResult("c1", "hello", "hello"),)
            ),  # "tool" 4, "hello" 1, "c1" 2
        ),
        tools=(Tool(FunctionDefinition("hello")),),
    )
    tool_json = '{"description": "", "name": "hello", "parameters": null}'
    assert count_prompt_tokens(encoding, many) == (
        3 + (3 + 9 + 1 + 2) + (3 + 4 + 1 + 2) + len(encoding.encode_ordinary(tool_json))
    )

    answer = Response(
        outputs=(
            Output("stop", (Choice("stop", 0, ResultMessage("hello hello")),)),
            Output("tool_calls", (Choice("tool_calls", 1, ResultMessage("", (call,))),)),
        )
    )
    assert count_completion_tokens(encoding, answer) == 3 + (1 + 2)
