"""The provider interface: one converse call in, one response out.

Providers (``component.providers.*``) talk to an LLM; pipeline stages (cache,
PII scrubbing, usage accounting) are providers too, each wrapping the next, so
the servicer only ever sees one :class:`Provider`.
"""

from __future__ import annotations

import abc

from component.conversation import Request, Response

__all__ = ["Provider"]


class Provider(abc.ABC):
    """Something that answers a conversation request."""

    #: Names of optional features, reported by the contract's ``Features``.
    features: tuple[str, ...] = ()

    @abc.abstractmethod
    async def converse(self, request: Request) -> Response:
        """Answer ``request``; raise a :class:`component.errors.PyllmError` on failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections and files; called once when the instance goes away."""
