"""Component instances: one pipeline per ``x-component-instance``.

daprd names the instance (the component's ``metadata.name``) on every call, so
several components of type ``conversation.pyllm`` share one process, each with
the settings of its own ``Init``. A re-``Init`` swaps the pipeline at once; the
old one is closed when the last call using it has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from component.errors import UnknownInstanceError
from component.provider import Provider

__all__ = ["InstanceRegistry"]

log = logging.getLogger(__name__)

PipelineBuilder = Callable[[str, Mapping[str, str]], Provider]


@dataclass(slots=True)
class _Instance:
    provider: Provider
    active: int = 0
    retired: bool = False


class InstanceRegistry:
    """The initialised instances of this process, by name."""

    def __init__(self, build: PipelineBuilder) -> None:
        self._build = build
        self._instances: dict[str, _Instance] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._instances

    async def init(self, name: str, metadata: Mapping[str, str]) -> None:
        """Build (validating) and install the pipeline for ``name``.

        The build runs in a thread: it may import a provider's SDK or build a PII
        analyzer, which must not stall the calls of other instances meanwhile.
        """
        provider = await asyncio.to_thread(self._build, name, metadata)
        old = self._instances.get(name)
        self._instances[name] = _Instance(provider)
        if old is not None:
            self._retire(old)
        log.info("instance %r initialised", name)

    def features(self, name: str) -> tuple[str, ...]:
        return self._get(name).provider.features

    @contextlib.asynccontextmanager
    async def use(self, name: str) -> AsyncIterator[Provider]:
        """Borrow the instance's pipeline for one call."""
        instance = self._get(name)
        instance.active += 1
        try:
            yield instance.provider
        finally:
            instance.active -= 1
            if instance.retired and instance.active == 0:
                await instance.provider.aclose()

    async def aclose(self) -> None:
        """Close every pipeline (at shutdown, after in-flight calls ended)."""
        instances, self._instances = list(self._instances.values()), {}
        for instance in instances:
            await instance.provider.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _get(self, name: str) -> _Instance:
        instance = self._instances.get(name)
        if instance is None:
            raise UnknownInstanceError(name)
        return instance

    def _retire(self, instance: _Instance) -> None:
        instance.retired = True
        if instance.active == 0:
            task = asyncio.create_task(instance.provider.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
