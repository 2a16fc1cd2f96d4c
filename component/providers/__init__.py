"""The providers pyllm can call, by the name the ``provider`` setting uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from component.provider import Provider
from component.providers.echo import EchoProvider
from component.resources import ProcessResources
from component.settings import Properties

__all__ = ["PROVIDERS", "ProviderFactory"]

#: Builds a provider from the component's metadata, validating what it reads.
ProviderFactory = Callable[[Properties, ProcessResources], Provider]


def _openai(properties: Properties, resources: ProcessResources) -> Provider:
    # Imported on first use (or by the start-up warm-up): the openai SDK takes
    # well over a second to import, which the socket should not wait for.
    from component.providers.openai import OpenAIProvider  # noqa: PLC0415

    return OpenAIProvider.from_properties(properties, resources)


PROVIDERS: Mapping[str, ProviderFactory] = MappingProxyType(
    {
        "echo": EchoProvider.from_properties,
        "openai": _openai,
    }
)
