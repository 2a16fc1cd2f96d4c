"""The ``diskcache`` response-cache store: a folder, shared and persistent.

Every process that mounts ``cacheDir`` (the pod's containers, or a restarted
component) shares the same SQLite-backed entries, which survive restarts;
``cacheSizeLimit`` bounds the folder, evicting the least recently stored
entries first. diskcache is synchronous, so every call runs on one worker
thread of our own and the event loop only waits, at most ``cacheTimeout``.

The folder can go bad under us; each way is handled so that requests never
fail (the stage degrades to pass-through on any error raised here):

* vanished or replaced: the database's inode is checked on every call and the
  cache reopened (recreating the folder) when it changed;
* corrupt (SQLite says "not a database" or "malformed"): the database files
  are moved aside to ``cache.db.corrupt*`` and a fresh one is created;
* unreadable, unwritable or full: the error is reported and the stage retries
  later.

Values are bytes only: the :class:`_BytesOnlyDisk` refuses diskcache's pickle
modes, so a tampered database can never make us unpickle anything.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import diskcache

from component.cache.backend import SECRET_BYTES, CacheBackend, CacheBackendError, Stored
from component.errors import InvalidSettingError
from component.settings import Properties

__all__ = ["SECRET_FILE", "DiskCacheBackend", "default_cache_dir", "parse_size"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The generated key secret, hex, mode 0600, beside the entries.
SECRET_FILE = "cache-key.secret"  # noqa: S105 - a file name, not a secret
_DB = "cache.db"
_DB_FILES = ("", "-wal", "-shm")
# SQLite primary result codes meaning the file itself is bad, not busy.
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
# Answers are kilobytes; keep them inside SQLite (one file to move aside when
# corrupt, nothing orphaned) unless truly large.
_MIN_FILE_SIZE = 4 * 2**20
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def default_cache_dir() -> Path:
    """Where entries go when ``cacheDir`` is not set (mount a volume to persist)."""
    return Path(tempfile.gettempdir()) / "pyllm-cache"


def parse_size(text: str) -> int:
    """Bytes from ``1073741824``, ``512MB``, ``1Gi``, ``1.5G`` (k=1000, Ki=1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(text)
    number, unit = match.group(1), (match.group(2) or "").lower()
    factor = 1024 ** ("kmgt".index(unit[0]) + 1) if unit.endswith("i") else _UNITS[unit]
    return int(float(number) * factor)


class _BytesOnlyDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache is untyped
    """diskcache serialization that stores and returns raw bytes only."""

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if type(value) is not bytes:
            raise TypeError("the response cache stores bytes only")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY):
            raise sqlite3.DatabaseError(f"unexpected value mode {mode} (not written by pyllm)")
        return super().fetch(mode, filename, value, read)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise sqlite3.DatabaseError("pickled key (not written by pyllm)")
        return super().get(key, raw)


class DiskCacheBackend(CacheBackend):
    """Entries in a diskcache folder; every call on one worker thread."""

    name = "diskcache"

    def __init__(self, directory: Path, *, size_limit: int, timeout: float) -> None:
        self._dir = directory
        self._size_limit = size_limit
        self._timeout = timeout
        # One thread: SQLite serialises writers anyway, close() then reaches the
        # only thread-local connection, and a hung disk stalls one thread only.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pyllm-diskcache"
        )
        self._lock = threading.Lock()
        self._cache: diskcache.Cache | None = None
        self._inode: int | None = None
        #: The shared secret last handed out; put back if the folder is recreated.
        self._secret: bytes | None = None

    @classmethod
    def from_properties(cls, properties: Properties, *, timeout: float) -> DiskCacheBackend:
        directory = properties.string("cacheDir") or str(default_cache_dir())
        limit_text = properties.string("cacheSizeLimit", "1Gi")
        try:
            limit = parse_size(limit_text)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise InvalidSettingError(
                "cacheSizeLimit",
                f"{limit_text!r} is not a positive size: use bytes or a unit, "
                "such as 536870912, 512Mi, 500MB or 2Gi",
            )
        return cls(Path(directory), size_limit=limit, timeout=timeout)

    @property
    def directory(self) -> Path:
        return self._dir

    async def get(self, key: str) -> Stored | None:
        return await self._call("get", self._get_sync, key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._call("set", self._set_sync, key, value, ttl)

    async def shared_secret(self, candidate: bytes) -> bytes:
        return await self._call("secret", self._secret_sync, candidate)

    async def aclose(self) -> None:
        with contextlib.suppress(CacheBackendError):
            await self._call("close", self._close_sync)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _call(self, operation: str, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._locked, fn, *args), self._timeout
            )
        except TimeoutError as exc:
            raise CacheBackendError(operation, f"no answer within {self._timeout:g}s") from exc
        except (OSError, sqlite3.Error, diskcache.Timeout, TypeError, RuntimeError) as exc:
            # RuntimeError: the executor is shut down (instance closing).
            raise CacheBackendError(operation, f"{type(exc).__name__}: {exc}") from exc

    # --- on the worker thread -------------------------------------------------

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            try:
                return fn(*args)
            except sqlite3.DatabaseError as exc:
                if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (
                    _SQLITE_CORRUPT,
                    _SQLITE_NOTADB,
                ):
                    self._quarantine()
                raise

    def _open(self) -> diskcache.Cache:
        db = self._dir / _DB
        if self._cache is not None:
            try:
                inode: int | None = db.stat().st_ino
            except FileNotFoundError:
                inode = None
            if inode != self._inode:
                log.info("cache folder %s was removed or replaced: reopening it", self._dir)
                self._close_sync()
        if self._cache is None:
            self._cache = diskcache.Cache(
                str(self._dir),
                timeout=self._timeout,
                disk=_BytesOnlyDisk,
                size_limit=self._size_limit,
                eviction_policy="least-recently-stored",
                disk_min_file_size=_MIN_FILE_SIZE,
                statistics=False,
                tag_index=False,
            )
            self._inode = db.stat().st_ino
            if self._secret is not None and self._install_secret(self._secret) != self._secret:
                # The folder was recreated and another process put its own
                # secret first: fail, so that the stage fetches that one.
                self._secret = None
                raise OSError("the cache key secret changed with the recreated folder")
        return self._cache

    def _get_sync(self, key: str) -> Stored | None:
        value, expires = self._open().get(key, default=None, expire_time=True, retry=False)
        if value is None:
            return None
        if not isinstance(value, bytes):
            raise sqlite3.DatabaseError("entry is not bytes (not written by pyllm)")
        return Stored(value, None if expires is None else expires - time.time())

    def _set_sync(self, key: str, value: bytes, ttl: float) -> None:
        self._open().set(key, value, expire=ttl, retry=False)

    def _secret_sync(self, candidate: bytes) -> bytes:
        self._open()  # creates the folder
        self._secret = self._install_secret(candidate)
        return self._secret

    def _install_secret(self, candidate: bytes) -> bytes:
        path = self._dir / SECRET_FILE
        if not path.exists():
            # Write a private temporary file, then hard-link it into place: the
            # link fails if another process won the race, and then we read theirs.
            fd, temporary = tempfile.mkstemp(prefix=f".{SECRET_FILE}.", dir=self._dir)
            try:
                with os.fdopen(fd, "wb") as out:  # mkstemp creates it 0600
                    out.write(candidate.hex().encode("ascii"))
                    out.flush()
                    os.fsync(out.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                Path(temporary).unlink(missing_ok=True)
        try:
            secret = bytes.fromhex(path.read_text("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            secret = b""
        if len(secret) != SECRET_BYTES:
            raise OSError(
                f"{path} is malformed: delete it (the cache then starts afresh) "
                "or set cacheKeySecret"
            )
        return secret

    def _quarantine(self) -> None:
        """Move a corrupt database aside so that the next call starts a fresh one."""
        known = self._inode
        self._close_sync()
        db = self._dir / _DB
        try:
            if known is not None and db.stat().st_ino != known:
                return  # another process already replaced it
        except FileNotFoundError:
            return
        for suffix in _DB_FILES:
            with contextlib.suppress(FileNotFoundError):
                (self._dir / f"{_DB}{suffix}").replace(self._dir / f"{_DB}.corrupt{suffix}")
        log.warning("cache database in %s is corrupt: moved it aside to %s.corrupt", self._dir, _DB)

    def _close_sync(self) -> None:
        cache, self._cache, self._inode = self._cache, None, None
        if cache is not None:
            with contextlib.suppress(sqlite3.Error, OSError):
                cache.close()
