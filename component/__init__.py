"""pyllm: a Dapr pluggable conversation component."""
