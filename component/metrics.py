"""Prometheus metrics, one registry per process (never the global default).

Labels carry only bounded, non-sensitive values: instance and provider names,
the model name, an outcome word, a cache or PII kind. Never prompts, keys or PII.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)


class Metrics:
    """Every metric pyllm exports, registered in :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "pyllm_requests",
            "Converse calls by instance, provider, model and outcome (a gRPC code name).",
            ["instance", "provider", "model", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "pyllm_request_seconds",
            "End-to-end Converse latency inside the component.",
            ["instance", "provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "pyllm_upstream_seconds",
            "Latency of one upstream (provider) attempt.",
            ["provider", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "pyllm_upstream_retries",
            "Upstream attempts retried after a transient failure, by reason.",
            ["provider", "reason"],
            registry=r,
        )
        self.tokens = Counter(
            "pyllm_tokens",
            "Tokens used, by direction (prompt or completion) and how they were counted.",
            ["instance", "model", "direction", "source"],
            registry=r,
        )
        self.cache_events = Counter(
            "pyllm_cache_events",
            "Response cache events: hit, miss, store, coalesced, bypass.",
            ["instance", "backend", "event"],
            registry=r,
        )
        self.cache_backend_errors = Counter(
            "pyllm_cache_backend_errors",
            "Cache backend failures that degraded the cache to pass-through.",
            ["backend", "operation"],
            registry=r,
        )
        self.pii_entities = Counter(
            "pyllm_pii_entities",
            "PII entities found and replaced, by kind and direction (input or output).",
            ["kind", "direction"],
            registry=r,
        )
