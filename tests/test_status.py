"""Every domain error maps to one gRPC status code, in one place."""

from __future__ import annotations

import grpc
import pytest

from component import errors
from component.servicer import status_for

CASES = [
    (errors.InvalidSettingError("model", "is empty"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidRequestError("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UnknownInstanceError("ghost"), grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDeniedError("x"), grpc.StatusCode.PERMISSION_DENIED),
    (errors.PiiEngineError("a PII worker died"), grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamBadRequestError("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UpstreamAuthenticationError("x"), grpc.StatusCode.UNAUTHENTICATED),
    (errors.UpstreamPermissionError("x"), grpc.StatusCode.PERMISSION_DENIED),
    (errors.UpstreamNotFoundError("x"), grpc.StatusCode.NOT_FOUND),
    (errors.UpstreamRateLimitError("x"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.UpstreamTimeoutError("x"), grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.UpstreamUnavailableError("x"), grpc.StatusCode.UNAVAILABLE),
    (errors.ProviderError("x"), grpc.StatusCode.UNAVAILABLE),
    (errors.PyllmError("x"), grpc.StatusCode.INTERNAL),
]


@pytest.mark.parametrize(("error", "code"), CASES, ids=[type(e).__name__ for e, _ in CASES])
def test_status_for(error: errors.PyllmError, code: grpc.StatusCode) -> None:
    assert status_for(error) == code


def test_every_error_class_is_covered() -> None:
    classes = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.PyllmError)
    }
    assert classes == {type(e) for e, _ in CASES}
