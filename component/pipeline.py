"""Assembly of one instance's pipeline from its component metadata.

Reading :func:`build_pipeline` tells the story of a request: the stages wrap
the provider from the outside in, each switched on by its own settings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from component.provider import Provider
from component.providers import PROVIDERS
from component.settings import Properties

__all__ = ["ProcessResources", "build_pipeline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessResources:
    """Heavy things built once per process at start and shared by every instance."""


def build_pipeline(
    instance: str, metadata: Mapping[str, str], resources: ProcessResources
) -> Provider:
    """Validate ``metadata`` and build the instance's provider wrapped in its stages."""
    del resources  # the stages that share process resources arrive with their issues
    properties = Properties(metadata)
    name = properties.choice("provider", tuple(PROVIDERS), default="echo")
    provider = PROVIDERS[name](properties)
    unread = properties.unread()
    if unread:
        # Dapr components ignore metadata they do not know; say so, names only.
        log.warning(
            "instance %r: ignoring unknown metadata fields: %s", instance, ", ".join(unread)
        )
    return provider
