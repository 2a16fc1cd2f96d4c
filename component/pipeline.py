"""Assembly of one instance's pipeline from its component metadata.

Reading :func:`build_pipeline` tells the story of a request: the stages wrap
the provider from the outside in, each switched on by its own settings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from component.provider import Provider
from component.providers import PROVIDERS
from component.resources import ProcessResources
from component.settings import Properties
from component.stages.cache import ResponseCache
from component.stages.scrub import PiiScrubber
from component.stages.usage import UsageAccounting

__all__ = ["assemble", "build_pipeline"]

log = logging.getLogger(__name__)


def build_pipeline(
    instance: str, metadata: Mapping[str, str], resources: ProcessResources
) -> Provider:
    """Validate ``metadata`` and build the instance's provider wrapped in its stages.

    Blocking (run it in a thread): it waits for the start-up warm-up, then may
    import a provider's SDK or build a PII analyzer.
    """
    resources.warm.wait()
    properties = Properties(metadata)
    provider = assemble(instance, properties, resources)
    unread = properties.unread()
    if unread:
        # Dapr components ignore metadata they do not know; say so, names only.
        log.warning(
            "instance %r: ignoring unknown metadata fields: %s", instance, ", ".join(unread)
        )
    return provider


def assemble(instance: str, properties: Properties, resources: ProcessResources) -> Provider:
    """The provider wrapped in its stages, each reading its own settings.

    From the outside in, a request meets: the response cache (a hit costs no PII
    work and no upstream call), the PII scrubber (the provider never sees what it
    replaces), usage accounting (token counts and the input-token guard), and the
    provider itself.
    """
    name = properties.choice("provider", tuple(PROVIDERS), default="echo")
    provider = PROVIDERS[name](properties, resources)
    provider = UsageAccounting.from_properties(provider, properties, resources, instance=instance)
    provider = PiiScrubber.wrap(
        provider, instance=instance, properties=properties, resources=resources
    )
    return ResponseCache.wrap(
        provider, instance=instance, properties=properties, resources=resources
    )
