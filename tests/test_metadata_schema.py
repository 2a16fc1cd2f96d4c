"""component/metadata.yaml documents exactly the settings the code reads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from component.pipeline import assemble
from component.resources import ProcessResources
from component.settings import Properties
from tests.support.component import ROOT

METADATA = ROOT / "component" / "metadata.yaml"


def _documented() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(METADATA.read_text())
    auth = [f for p in doc.get("authenticationProfiles", []) for f in p["metadata"]]
    return {f["name"]: f for f in [*auth, *doc["metadata"]]}


def _configurations(tmp: Path) -> list[dict[str, str]]:
    """Settings that, together, take every branch that reads a field."""
    return [
        {},  # echo, no cache, no PII
        {"provider": "openai", "key": "sk-x"},
        {
            "provider": "openai",
            "apiType": "azure",
            "endpoint": "http://127.0.0.1:9",
            "apiVersion": "2024-10-21",
            "key": "k",
        },
        {"cacheTTL": "1m", "cacheDir": str(tmp / "cache")},
        {"cacheTTL": "1m", "cacheBackend": "redis", "redisHost": "127.0.0.1:9"},
        {"scrubPII": "both"},
    ]


async def test_the_code_reads_exactly_the_documented_fields(tmp_path: Path) -> None:
    resources = ProcessResources()
    asked: set[str] = set()
    for settings in _configurations(tmp_path):
        properties = Properties(settings)
        provider = await asyncio.to_thread(assemble, "schema", properties, resources)
        asked |= properties.asked()
        await provider.aclose()
    resources.pii.close()
    documented = set(_documented())
    assert asked - documented == set(), "read by the code but not in metadata.yaml"
    assert documented - asked == set(), "in metadata.yaml but never read by the code"


def test_every_field_is_fully_described() -> None:
    for name, field in _documented().items():
        assert field.get("description", "").strip(), name
        assert field.get("type") in {"string", "number", "bool", "duration"}, name
        assert "example" in field, name


@pytest.mark.parametrize("name", ["key", "cacheKeySecret", "redisPassword"])
def test_secrets_are_marked_sensitive(name: str) -> None:
    assert _documented()[name].get("sensitive") is True


def test_allowed_values_match_the_code() -> None:
    from component.providers import PROVIDERS

    assert _documented()["provider"]["allowedValues"] == list(PROVIDERS)


def test_the_readme_reference_is_generated_from_it() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_config_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_example_components_use_only_documented_fields() -> None:
    documented = {name.lower() for name in _documented()}
    for path in sorted((ROOT / "components").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("spec", {}).get("type") != "conversation.pyllm":
                continue
            for item in doc["spec"].get("metadata", []):
                assert item["name"].lower() in documented, f"{path.name}: {item['name']}"
