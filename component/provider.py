"""The provider interface: one converse call in, one response out.

Providers (``component.providers.*``) talk to an LLM; pipeline stages (cache,
PII scrubbing, usage accounting) are providers too, each wrapping the next, so
the servicer only ever sees one :class:`Provider`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from component.conversation import Request, Response

__all__ = ["Provider"]


class Provider(abc.ABC):
    """Something that answers a conversation request."""

    #: The provider's name as the ``provider`` setting spells it (metrics, cache keys).
    name: str = "provider"
    #: Names of optional features, reported by the contract's ``Features``.
    features: tuple[str, ...] = ()

    @abc.abstractmethod
    async def converse(self, request: Request) -> Response:
        """Answer ``request``; raise a :class:`component.errors.PyllmError` on failure."""

    def identity(self, request: Request) -> Mapping[str, str]:
        """What, besides the request itself, decides the answer.

        For example the provider name, its endpoint and the model after the
        request's overrides. The response cache puts this in its key; stages
        return their inner provider's identity. Never include secrets.
        """
        del request
        return {"provider": self.name}

    async def aclose(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections and files; called once when the instance goes away."""
