"""Pipeline stages: providers that wrap a provider (cache, PII scrubbing, usage accounting)."""
