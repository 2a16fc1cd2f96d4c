"""A tiny tiktoken encoding the tests build, loaded exactly as real ones are.

:func:`install_tiny_encoding` writes a BPE file in tiktoken's format into a cache
folder under the SHA-1 of a made-up URL, the way tiktoken caches a download,
and returns an :class:`EncodingSource` whose constructor reads it back through
``tiktoken.load.load_tiktoken_bpe`` with its SHA-256, as ``tiktoken_ext``'s
constructors do for o200k_base and cl100k_base.

Its vocabulary: every single byte (ranks 0-255), then ``he``, ``ll``, ``hell``,
``hello``; words split on spaces. So ``hello`` is 1 token, ``hi`` 2, ``user`` 4.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from tiktoken.load import load_tiktoken_bpe

from component.tokens import EncodingSource

__all__ = ["TINY", "TINY_URL", "install_tiny_encoding"]

TINY = "pyllm_tiny"
TINY_URL = "https://encodings.pyllm.invalid/pyllm_tiny.tiktoken"
_MERGES = (b"he", b"ll", b"hell", b"hello")


def _bpe_file() -> bytes:
    tokens = [bytes([b]) for b in range(256)] + list(_MERGES)
    return b"".join(
        base64.b64encode(t) + b" " + str(rank).encode() + b"\n" for rank, t in enumerate(tokens)
    )


def install_tiny_encoding(cache_dir: Path) -> EncodingSource:
    """Write the file into ``cache_dir`` (tiktoken's cache) and describe it."""
    data = _bpe_file()
    sha256 = hashlib.sha256(data).hexdigest()
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / hashlib.sha1(TINY_URL.encode()).hexdigest()).write_bytes(data)  # noqa: S324 - tiktoken's key

    def constructor() -> dict[str, Any]:
        return {
            "name": TINY,
            "pat_str": r" ?[^\s]+|\s+",
            "mergeable_ranks": load_tiktoken_bpe(TINY_URL, expected_hash=sha256),
            "special_tokens": {"<|endoftext|>": 260},
        }

    return EncodingSource(TINY, TINY_URL, sha256, constructor)
