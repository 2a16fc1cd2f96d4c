"""openai SDK exceptions, judged and translated into pyllm's errors.

By meaning: 400/413/422 → bad request, 401 → authentication, 403 →
permission, 404 → not found, 408 and timeouts → timeout, 429 → rate limit,
5xx, connection failures and bodies that are not a chat completion →
unavailable. Only 408, 429 (unless the quota is spent), 5xx and connection
failures are worth another attempt. Messages keep the provider's own words and
lose the key, wherever the upstream may have echoed it.
"""

from __future__ import annotations

import json
from http import HTTPStatus

import openai

from component.errors import (
    ProviderError,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamNotFoundError,
    UpstreamPermissionError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from component.providers.retrying import Failure, retry_after_seconds

__all__ = ["classify"]

_MASK = "[REDACTED]"
_MAX_MESSAGE = 1000

_BY_STATUS: dict[int, tuple[type[ProviderError], str]] = {
    400: (UpstreamBadRequestError, "bad_request"),
    401: (UpstreamAuthenticationError, "unauthenticated"),
    403: (UpstreamPermissionError, "permission_denied"),
    404: (UpstreamNotFoundError, "not_found"),
    408: (UpstreamTimeoutError, "timeout"),
    413: (UpstreamBadRequestError, "bad_request"),
    422: (UpstreamBadRequestError, "bad_request"),
    429: (UpstreamRateLimitError, "rate_limited"),
}


def classify(exc: Exception, *, key: str, endpoint: str) -> Failure:
    """Judge one failed attempt; re-raise what no upstream call should raise."""
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, key)
    if isinstance(exc, openai.APITimeoutError):
        return Failure(
            UpstreamTimeoutError(f"the upstream at {endpoint} did not answer in time"),
            retry_reason="timeout",
            outcome="timeout",
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return Failure(
            UpstreamUnavailableError(
                f"cannot reach the upstream at {endpoint}: {_clean(detail, key)}"
            ),
            retry_reason="connection",
            outcome="connection",
        )
    if isinstance(exc, openai.APIResponseValidationError):
        # Well-formed JSON of the wrong shape: an incompatible server, not a glitch.
        return Failure(
            UpstreamUnavailableError(
                f"the upstream at {endpoint} answered with JSON that is not a chat completion"
            ),
            outcome="malformed",
        )
    if isinstance(exc, ValueError):
        # The SDK raises json's ValueError as it is when the body is not JSON: most
        # often a body cut short by a proxy or an overloaded server, so worth a retry.
        return Failure(
            UpstreamUnavailableError(
                f"the upstream at {endpoint} answered with malformed JSON, not a chat completion"
            ),
            retry_reason="malformed",
            outcome="malformed",
        )
    if isinstance(exc, openai.OpenAIError):
        return Failure(
            UpstreamUnavailableError(f"the openai client failed: {_clean(str(exc), key)}"),
            outcome="error",
        )
    raise exc


def _status_failure(exc: openai.APIStatusError, key: str) -> Failure:
    status = exc.status_code
    kind, outcome = _BY_STATUS.get(status, (UpstreamBadRequestError, "bad_request"))
    retry_reason: str | None = None
    if status >= 500:
        kind, outcome, retry_reason = UpstreamUnavailableError, "server_error", "server_error"
    elif status == 408:
        retry_reason = "timeout"
    elif status == 409:
        kind, outcome = UpstreamUnavailableError, "conflict"
    elif status == 429 and _code(exc) != "insufficient_quota":
        retry_reason = "rate_limited"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    message = _clean(_provider_message(exc), key)
    return Failure(
        kind(f"upstream answered {status} {phrase}: {message}"),
        retry_reason=retry_reason,
        retry_after=retry_after_seconds(exc.response.headers),
        outcome=outcome,
    )


def _code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _provider_message(exc: openai.APIStatusError) -> str:
    """The provider's own words: ``error.message``, else the body's text."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
        return json.dumps(body, ensure_ascii=False)
    if isinstance(body, str) and body:
        return body
    try:
        text = exc.response.text
    except Exception:  # an unread stream: the status says enough
        text = ""
    return text or "(no message)"


def _clean(message: str, key: str) -> str:
    if key:
        message = message.replace(key, _MASK)
    message = " ".join(message.split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return message
