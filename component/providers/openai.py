"""The ``openai`` provider: OpenAI, Azure OpenAI and any OpenAI-compatible server.

Settings follow Dapr's built-in ``conversation.openai`` (``key``, ``model``,
``endpoint``, ``apiType``, ``apiVersion``) plus pyllm's own (``maxRetries``,
``timeout``, ``retryBackoff``, ``retryMaxDelay``, ``allowedModels``,
``allowConnectionOverrides``). ``apiType: azure`` uses ``AsyncAzureOpenAI``
and needs ``endpoint`` and ``apiVersion``.

Precedence, highest first:

* model: request metadata ``model`` (checked against ``allowedModels``), the
  component's ``model``, the ``OPENAI_MODEL`` (Azure: ``AZURE_OPENAI_MODEL``)
  environment variable, then Dapr's default (``gpt-5-nano``; Azure:
  ``gpt-4.1-nano``). Dapr reads the variable before the metadata; pyllm lets
  the component's own setting win.
* key, endpoint, API version: request metadata (``api_key``/``key``,
  ``endpoint``, ``version``/``apiVersion``) unless ``allowConnectionOverrides``
  is false, then the component's settings. A request that moves the endpoint
  must bring its own key: the component's key never goes to another endpoint.
* parameters: see :mod:`component.providers.openai_params`; they win over the
  request's own fields (``temperature`` 0 can only be sent that way).

One HTTP connection pool per instance serves every call, overrides included,
and is closed by :meth:`OpenAIProvider.aclose`. The SDK's own retries are off:
:mod:`component.providers.retrying` retries within the request's deadline.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import openai

from component.conversation import Request, Response
from component.errors import (
    InvalidRequestError,
    InvalidSettingError,
    PermissionDeniedError,
    PyllmError,
)
from component.metrics import Metrics
from component.provider import Provider
from component.providers.openai_errors import classify
from component.providers.openai_mapping import chat_body, from_completion
from component.providers.openai_params import provider_parameters
from component.providers.retrying import RetryPolicy, call_with_retries
from component.resources import ProcessResources
from component.settings import Properties

__all__ = ["OpenAIProvider", "OpenAISettings"]

log = logging.getLogger(__name__)

OPENAI_ENDPOINT = "https://api.openai.com/v1"
_DEFAULT_MODEL = {"open_ai": "gpt-5-nano", "azure": "gpt-4.1-nano"}
_MODEL_ENV = {"open_ai": "OPENAI_MODEL", "azure": "AZURE_OPENAI_MODEL"}
# Compatible servers (Ollama, vLLM, ...) often need no key; the SDK insists on one.
_NO_KEY = "none"
_KEY_OVERRIDES = ("api_key", "key")
_VERSION_OVERRIDES = ("version", "apiversion")
_TRACE_HEADERS = ("traceparent", "tracestate")


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """The component's settings for this provider, validated."""

    key: str
    model: str = _DEFAULT_MODEL["open_ai"]
    endpoint: str = OPENAI_ENDPOINT
    api_type: str = "open_ai"
    api_version: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allowed_models: tuple[str, ...] = ()
    allow_connection_overrides: bool = True

    @classmethod
    def from_properties(cls, properties: Properties) -> OpenAISettings:
        api_type = properties.choice("apiType", ("open_ai", "openai", "azure"), "open_ai")
        api_type = "open_ai" if api_type == "openai" else api_type
        endpoint = properties.string("endpoint").rstrip("/")
        if endpoint:
            _check_url(endpoint, lambda problem: InvalidSettingError("endpoint", problem))
        key = properties.secret("key")
        api_version = properties.string("apiVersion")
        if api_type == "azure":
            given = (("endpoint", endpoint), ("apiVersion", api_version))
            missing = [name for name, value in given if not value]
            if missing:
                raise InvalidSettingError(
                    missing[0],
                    f"is required when apiType is azure (missing: {', '.join(missing)}); "
                    "endpoint is the resource URL, e.g. https://example.openai.azure.com, "
                    "and apiVersion e.g. 2024-10-21",
                )
        if not key and (api_type == "azure" or not endpoint):
            raise InvalidSettingError(
                "key",
                "is required for OpenAI and Azure OpenAI (only a custom endpoint may omit it)",
            )
        model = (
            properties.string("model")
            or os.environ.get(_MODEL_ENV[api_type], "").strip()
            or _DEFAULT_MODEL[api_type]
        )
        timeout = properties.duration("timeout", allow_zero=False)
        backoff = properties.duration("retryBackoff")
        max_delay = properties.duration("retryMaxDelay")
        defaults = RetryPolicy()
        retry = RetryPolicy(
            max_retries=properties.integer(
                "maxRetries", defaults.max_retries, minimum=0, maximum=10
            ),
            attempt_timeout=timeout.total_seconds() if timeout else defaults.attempt_timeout,
            backoff=backoff.total_seconds() if backoff is not None else defaults.backoff,
            max_delay=max_delay.total_seconds() if max_delay is not None else defaults.max_delay,
        )
        return cls(
            key=key,
            model=model,
            endpoint=endpoint or OPENAI_ENDPOINT,
            api_type=api_type,
            api_version=api_version,
            retry=retry,
            allowed_models=properties.string_list("allowedModels"),
            allow_connection_overrides=properties.boolean("allowConnectionOverrides", True),
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one call goes, after the request's overrides."""

    model: str
    endpoint: str
    key: str
    api_version: str


class OpenAIProvider(Provider):
    """Chat completions through the openai SDK, with bounded retries."""

    name = "openai"

    def __init__(self, settings: OpenAISettings, *, metrics: Metrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics or Metrics()
        self._http = openai.DefaultAsyncHttpxClient()
        self._default = _Target(
            settings.model, settings.endpoint, settings.key, settings.api_version
        )
        self._client = self._client_for(self._default)

    @classmethod
    def from_properties(cls, properties: Properties, resources: ProcessResources) -> OpenAIProvider:
        settings = OpenAISettings.from_properties(properties)
        if settings.key:
            resources.redactor.register(settings.key)
        return cls(settings, metrics=resources.metrics)

    def identity(self, request: Request) -> Mapping[str, str]:
        try:
            target = self._target(request)
        except PyllmError:
            # converse() refuses this request; still tell the cache what it asked for.
            target = self._default
        identity = {
            "provider": self.name,
            "apiType": self._settings.api_type,
            "endpoint": target.endpoint,
            "model": target.model,
        }
        if self._settings.api_type == "azure":
            identity["apiVersion"] = target.api_version
        return identity

    async def converse(self, request: Request) -> Response:
        target = self._target(request)
        body = chat_body(
            request,
            model=target.model,
            parameters=provider_parameters(request.metadata, request.parameters),
        )
        client = self._client if target == self._default else self._client_for(target)
        log.debug(
            "openai: %d messages to model %r at %s",
            len(body["messages"]),
            target.model,
            _display(target.endpoint),
        )

        # daprd's trace context (or our span's) goes on, so the upstream joins the trace.
        trace = {k: v for k, v in request.trace_headers.items() if k.lower() in _TRACE_HEADERS}

        async def attempt(budget: float | None) -> object:
            return await client.chat.completions.create(
                **body, timeout=budget, extra_headers=trace or None
            )

        completion = await call_with_retries(
            attempt,
            policy=self._settings.retry,
            deadline=request.deadline,
            classify=lambda exc: classify(exc, key=target.key, endpoint=_display(target.endpoint)),
            observe=self._observe,
            on_retry=self._count_retry,
        )
        return from_completion(completion, request=request, model=target.model)

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- internals -------------------------------------------------------------

    def _observe(self, outcome: str, seconds: float) -> None:
        self._metrics.upstream_seconds.labels(self.name, outcome).observe(seconds)

    def _count_retry(self, reason: str) -> None:
        self._metrics.retries.labels(self.name, reason).inc()

    def _client_for(self, target: _Target) -> openai.AsyncOpenAI:
        timeout = self._settings.retry.attempt_timeout
        if self._settings.api_type == "azure":
            return openai.AsyncAzureOpenAI(
                azure_endpoint=target.endpoint,
                api_version=target.api_version,
                api_key=target.key,
                max_retries=0,  # we retry, within the deadline
                timeout=timeout,
                http_client=self._http,
            )
        return openai.AsyncOpenAI(
            base_url=target.endpoint,
            api_key=target.key or _NO_KEY,
            max_retries=0,  # we retry, within the deadline
            timeout=timeout,
            http_client=self._http,
        )

    def _target(self, request: Request) -> _Target:
        metadata = {key.lower(): value.strip() for key, value in request.metadata.items()}
        model = metadata.get("model") or self._default.model
        allowed = self._settings.allowed_models
        if (
            model != self._default.model
            and allowed
            and not any(fnmatch.fnmatchcase(model, pattern) for pattern in allowed)
        ):
            raise PermissionDeniedError(
                f"request metadata 'model': {model!r} is not allowed; allowedModels are "
                f"{', '.join(allowed)}"
            )
        key_name = next((n for n in _KEY_OVERRIDES if metadata.get(n)), None)
        version_name = next((n for n in _VERSION_OVERRIDES if metadata.get(n)), None)
        endpoint = metadata.get("endpoint", "").rstrip("/")
        asked = [n for n in (key_name, "endpoint" if endpoint else None, version_name) if n]
        if asked and not self._settings.allow_connection_overrides:
            raise PermissionDeniedError(
                f"request metadata {asked[0]!r} may not override the component's settings: "
                "allowConnectionOverrides is false"
            )
        key = metadata[key_name] if key_name else self._default.key
        if endpoint and endpoint != self._default.endpoint:
            _check_url(endpoint, lambda p: InvalidRequestError(f"request metadata 'endpoint': {p}"))
            if key_name is None and self._default.key:
                raise PermissionDeniedError(
                    "request metadata 'endpoint' needs 'api_key' too: the component's key is "
                    "never sent to another endpoint"
                )
        return _Target(
            model=model,
            endpoint=endpoint or self._default.endpoint,
            key=key,
            api_version=metadata[version_name] if version_name else self._default.api_version,
        )


def _check_url(url: str, error: Callable[[str], PyllmError]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = _display(url) if "@" in url else url  # never echo credentials
        raise error(f"{shown!r} is not an http(s) URL with a host")


def _display(url: str) -> str:
    """The URL without credentials or query, fit for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"
