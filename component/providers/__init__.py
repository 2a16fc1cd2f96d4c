"""The providers pyllm can call, by the name the ``provider`` setting uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from component.provider import Provider
from component.providers.echo import EchoProvider
from component.providers.openai import OpenAIProvider
from component.resources import ProcessResources
from component.settings import Properties

__all__ = ["PROVIDERS", "ProviderFactory"]

#: Builds a provider from the component's metadata, validating what it reads.
ProviderFactory = Callable[[Properties, ProcessResources], Provider]

PROVIDERS: Mapping[str, ProviderFactory] = MappingProxyType(
    {
        "echo": EchoProvider.from_properties,
        "openai": OpenAIProvider.from_properties,
    }
)
