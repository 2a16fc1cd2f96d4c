"""Bounded retries of an upstream call, within the caller's deadline.

The SDKs' own retry loops know nothing of the gRPC deadline, so providers turn
them off and call :func:`call_with_retries`: at most ``1 + max_retries``
attempts, each capped by ``attempt_timeout`` and by what is left of the
deadline; only failures the provider calls transient are retried, after the
server's ``Retry-After`` when it sent one, else after an exponential backoff
with jitter. A wait longer than ``max_delay``, or one that would end past the
deadline, is not taken: the last failure is raised at once instead. Cancelling
the caller cancels the attempt in flight (and so its HTTP request).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from component.errors import ProviderError, UpstreamTimeoutError

__all__ = ["Failure", "RetryPolicy", "call_with_retries", "retry_after_seconds"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    #: Seconds one attempt may take (``None``: only the deadline bounds it).
    attempt_timeout: float | None = 120.0
    #: Base of the exponential backoff, in seconds.
    backoff: float = 0.5
    #: The longest wait between two attempts, ``Retry-After`` included.
    max_delay: float = 30.0

    def backoff_delay(self, retry: int, rng: random.Random) -> float:
        """Equal jitter: half of ``backoff * 2**retry`` (capped), plus up to as much again."""
        step = min(self.max_delay, self.backoff * 2**retry)
        return float(step / 2 + rng.uniform(0, step / 2))


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, as the provider judges it."""

    error: ProviderError
    #: A metrics word (``rate_limited``, ``server_error``, ...) if worth retrying, else None.
    retry_reason: str | None = None
    retry_after: float | None = None
    #: The outcome label of the attempt's latency.
    outcome: str = "error"


#: Classifies an exception raised by an attempt (re-raise what is unexpected).
Classifier = Callable[[Exception], Failure]


async def call_with_retries(
    attempt: Callable[[float | None], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float | None,
    classify: Classifier,
    observe: Callable[[str, float], None],
    on_retry: Callable[[str], None],
    rng: random.Random | None = None,
) -> T:
    """Run ``attempt(budget_seconds)`` until it succeeds or may not be retried.

    ``observe(outcome, seconds)`` sees every attempt; ``on_retry(reason)`` every retry.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    for number in range(1, policy.max_retries + 2):
        budget = _budget(policy, deadline, number)
        started = time.monotonic()
        timer = asyncio.timeout(budget)
        try:
            async with timer:
                result = await attempt(budget)
        except Exception as exc:
            elapsed = time.monotonic() - started
            failure = _timed_out(policy, deadline) if timer.expired() else classify(exc)
            observe(failure.outcome, elapsed)
            if deadline is not None and time.monotonic() >= deadline:
                raise _with_attempts(
                    UpstreamTimeoutError("the call's deadline passed before the upstream answered"),
                    number,
                ) from exc
            wait = _wait_before_retry(failure, policy, deadline, number, rng)
            if wait is None:
                raise _with_attempts(failure.error, number) from exc
            log.info(
                "upstream attempt %d failed (%s); retrying in %.2fs",
                number,
                failure.retry_reason,
                wait,
            )
            on_retry(failure.retry_reason or "unknown")
            await asyncio.sleep(wait)
        else:
            observe("ok", time.monotonic() - started)
            return result
    raise AssertionError("unreachable: the last attempt returns or raises")


def _budget(policy: RetryPolicy, deadline: float | None, number: int) -> float | None:
    if deadline is None:
        return policy.attempt_timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _with_attempts(
            UpstreamTimeoutError("the call's deadline passed before the upstream answered"),
            number - 1,
        )
    return left if policy.attempt_timeout is None else min(left, policy.attempt_timeout)


def _timed_out(policy: RetryPolicy, deadline: float | None) -> Failure:
    if deadline is not None and time.monotonic() >= deadline:
        return Failure(UpstreamTimeoutError("deadline"), outcome="deadline")
    return Failure(
        UpstreamTimeoutError(
            f"the upstream did not answer within the attempt timeout of {policy.attempt_timeout:g}s"
        ),
        retry_reason="timeout",
        outcome="timeout",
    )


def _wait_before_retry(
    failure: Failure,
    policy: RetryPolicy,
    deadline: float | None,
    number: int,
    rng: random.Random,
) -> float | None:
    if failure.retry_reason is None or number > policy.max_retries:
        return None
    if failure.retry_after is not None:
        wait = max(0.0, failure.retry_after)
        if wait > policy.max_delay:
            log.info(
                "upstream asked to retry after %.1fs, more than the %.1fs allowed: not retrying",
                wait,
                policy.max_delay,
            )
            return None
    else:
        wait = policy.backoff_delay(number - 1, rng)
    if deadline is not None and time.monotonic() + wait >= deadline:
        return None
    return wait


def _with_attempts(error: ProviderError, attempts: int) -> ProviderError:
    if attempts <= 1:
        return error
    return type(error)(f"{error} (after {attempts} attempts)")


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
