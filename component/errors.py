"""pyllm's exceptions.

The tree (the servicer maps each to one gRPC status code, in one place; a
request over ``--max-request-bytes`` is refused by gRPC itself, before any of
this, with RESOURCE_EXHAUSTED)::

    PyllmError
    ├── InvalidSettingError      a component setting is wrong      INVALID_ARGUMENT
    ├── InvalidRequestError      a converse request is unusable    INVALID_ARGUMENT
    ├── UnknownInstanceError     no Init for this instance yet     FAILED_PRECONDITION
    ├── PermissionDeniedError    a refused per-request override    PERMISSION_DENIED
    ├── PiiEngineError           PII scrubbing could not run       UNAVAILABLE
    └── ProviderError            the upstream call failed          (by kind, below)
        ├── UpstreamBadRequestError      400                       INVALID_ARGUMENT
        ├── UpstreamAuthenticationError  401                       UNAUTHENTICATED
        ├── UpstreamPermissionError      403                       PERMISSION_DENIED
        ├── UpstreamNotFoundError        404                       NOT_FOUND
        ├── UpstreamRateLimitError       429                       RESOURCE_EXHAUSTED
        ├── UpstreamTimeoutError         timeout                   DEADLINE_EXCEEDED
        └── UpstreamUnavailableError     5xx, connection, garbage  UNAVAILABLE

Third-party errors (openai, Presidio, diskcache, redis) are wrapped where they
are raised, ``raise X(...) from exc``; messages never carry keys or PII.
"""

from __future__ import annotations

__all__ = [
    "InvalidRequestError",
    "InvalidSettingError",
    "PermissionDeniedError",
    "PiiEngineError",
    "ProviderError",
    "PyllmError",
    "UnknownInstanceError",
    "UpstreamAuthenticationError",
    "UpstreamBadRequestError",
    "UpstreamNotFoundError",
    "UpstreamPermissionError",
    "UpstreamRateLimitError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
]


class PyllmError(Exception):
    """Base of every error pyllm raises on purpose."""


class InvalidSettingError(PyllmError):
    """A component metadata field is missing or malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"metadata field {field!r}: {problem}")
        self.field = field


class InvalidRequestError(PyllmError):
    """A converse request carries something the component cannot use."""


class UnknownInstanceError(PyllmError):
    """A call names an instance that was never initialised."""

    def __init__(self, instance: str) -> None:
        super().__init__(
            f"component instance {instance!r} is not initialised: call Init for it first"
        )
        self.instance = instance


class PermissionDeniedError(PyllmError):
    """The operator's settings forbid what the request asks for."""


class PiiEngineError(PyllmError):
    """Scrubbing could not run (a PII worker died, ...); nothing was sent on."""


class ProviderError(PyllmError):
    """The provider (upstream LLM service) could not answer."""


class UpstreamBadRequestError(ProviderError):
    pass


class UpstreamAuthenticationError(ProviderError):
    pass


class UpstreamPermissionError(ProviderError):
    pass


class UpstreamNotFoundError(ProviderError):
    pass


class UpstreamRateLimitError(ProviderError):
    pass


class UpstreamTimeoutError(ProviderError):
    pass


class UpstreamUnavailableError(ProviderError):
    pass
