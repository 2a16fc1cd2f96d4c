"""What can be checked of the images and manifests without a Docker engine or a cluster.

hadolint lints both Dockerfiles; every file they copy exists; the image's entry
command and health check run here; kustomize (pinned, built with Go) renders
both deploy/ variants, kubernetes-validate checks the Kubernetes objects against
the API schemas, and the Dapr-specific wiring is cross-checked by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.support.component import ROOT, ComponentProcess

KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"
BIN = ROOT / ".venv" / "bin"


def _instructions(path: Path) -> list[dict[str, Any]]:
    parser = DockerfileParser(path=str(path))
    result: list[dict[str, Any]] = parser.structure
    return result


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "daprd/Dockerfile"])
def test_hadolint_passes(dockerfile: str) -> None:
    run = subprocess.run([BIN / "hadolint", dockerfile], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    ("dockerfile", "context"), [("Dockerfile", "."), ("daprd/Dockerfile", "daprd")]
)
def test_everything_the_dockerfile_copies_exists_and_is_not_ignored(
    dockerfile: str, context: str
) -> None:
    ctx = ROOT / context
    ignored = {
        line.strip()
        for line in (ctx / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for item in _instructions(ROOT / dockerfile):
        if item["instruction"] != "COPY" or "--from=" in item["value"]:
            continue
        sources = [s for s in item["value"].split() if not s.startswith("--")][:-1]
        for source in sources:
            assert (ctx / source).exists(), f"{dockerfile}: COPY {source} does not exist"
            assert source.rstrip("/") not in ignored, f"{dockerfile}: {source} is in .dockerignore"


def test_component_image_runs_as_non_root_with_baked_encodings_and_a_health_check() -> None:
    items = _instructions(ROOT / "Dockerfile")
    final = items[max(i for i, it in enumerate(items) if it["instruction"] == "FROM") :]
    by = {it["instruction"]: it["value"] for it in final}
    assert by["USER"] == "65532:65532"
    assert by["STOPSIGNAL"] == "SIGTERM"
    assert "component.healthcheck" in by["HEALTHCHECK"]
    assert json.loads(by["ENTRYPOINT"]) == ["python", "-m", "component"]
    assert "TIKTOKEN_CACHE_DIR=/opt/tiktoken" in " ".join(
        it["value"] for it in final if it["instruction"] == "ENV"
    )
    assert "/tmp/dapr-components-sockets" in by["VOLUME"] and "/var/cache/pyllm" in by["VOLUME"]
    cmd = json.loads(by["CMD"])
    # The grace period stays inside Kubernetes' default 30 s termination grace.
    assert float(cmd[cmd.index("--grace-period") + 1]) < 30


def test_daprd_image_is_distroless_static_nonroot_with_the_binary_at_slash_daprd() -> None:
    items = _instructions(ROOT / "daprd" / "Dockerfile")
    final = items[max(i for i, it in enumerate(items) if it["instruction"] == "FROM") :]
    by = {it["instruction"]: it["value"] for it in final}
    assert by["FROM"].startswith("gcr.io/distroless/static") and by["FROM"].endswith(":nonroot")
    assert by["COPY"].split()[-1] == "/daprd"
    assert json.loads(by["ENTRYPOINT"]) == ["/daprd"]
    build = " ".join(it["value"] for it in items if it["instruction"] == "RUN")
    assert "CGO_ENABLED=0" in build and "stablecomponents,conversation_echo" in build


def test_the_entry_command_and_the_health_check_run(sockets_folder: Path) -> None:
    help_run = subprocess.run(
        [sys.executable, "-m", "component", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert help_run.returncode == 0 and "--grace-period" in help_run.stdout
    probe = [sys.executable, "-m", "component.healthcheck", "--sockets-folder", str(sockets_folder)]
    down = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True)
    assert down.returncode == 1 and "no socket at" in down.stderr
    with ComponentProcess(sockets_folder):
        assert subprocess.run(probe, cwd=ROOT).returncode == 0


def _kustomize(path: str, tmp_path: Path) -> list[dict[str, Any]]:
    if shutil.which("go") is None:
        pytest.fail("Go is required to build kustomize for the manifest tests")
    env = {**os.environ, "GOBIN": str(tmp_path / "bin"), "CGO_ENABLED": "0"}
    binary = Path(os.environ.get("GOPATH", Path.home() / "go")) / "bin" / "kustomize-v5.7.1"
    if not binary.exists():
        subprocess.run(["go", "install", KUSTOMIZE], check=True, env=env, cwd=tmp_path)
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "bin" / "kustomize", binary)
    out = subprocess.run([binary, "build", ROOT / path], check=True, capture_output=True, text=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _validate(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    kube = [d for d in docs if d["apiVersion"] != "dapr.io/v1alpha1"]
    path = tmp_path / "kube.yaml"
    path.write_text(yaml.safe_dump_all(kube))
    run = subprocess.run(
        [BIN / "kubernetes-validate", "--strict", "-k", "1.33.0", path],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


def _check_component(component: dict[str, Any], app_id: str) -> None:
    assert component["spec"]["type"] == "conversation.pyllm"
    assert app_id in component["scopes"]
    meta = {m["name"]: m for m in component["spec"]["metadata"]}
    assert meta["key"]["secretKeyRef"] == {"name": "openai", "key": "api-key"}
    assert "value" not in meta["key"]


def test_sidecar_variant(tmp_path: Path) -> None:
    docs = _kustomize("deploy/base", tmp_path)
    _validate(docs, tmp_path)
    deployment = _one(docs, "Deployment")
    pod = deployment["spec"]["template"]
    notes = pod["metadata"]["annotations"]
    assert notes["dapr.io/enabled"] == "true"
    app_id = notes["dapr.io/app-id"]
    assert notes["dapr.io/sidecar-image"].endswith("/pyllm/daprd:1.18.2")
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert notes["dapr.io/pluggable-components"] in containers
    pyllm = containers[notes["dapr.io/pluggable-components"]]
    assert pyllm["image"].endswith("/pyllm/component:0.1.0")
    security = pyllm["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["allowPrivilegeEscalation"] is False
    for probe in ("readinessProbe", "livenessProbe"):
        assert pyllm[probe]["exec"]["command"] == ["python", "-m", "component.healthcheck"]
    volumes = {v["name"] for v in pod["spec"]["volumes"]}
    assert {m["name"] for m in pyllm["volumeMounts"]} <= volumes
    grace = float(pyllm["args"][pyllm["args"].index("--grace-period") + 1])
    assert grace < pod["spec"]["terminationGracePeriodSeconds"]
    metrics_port = pyllm["args"][pyllm["args"].index("--metrics-port") + 1]
    assert notes["prometheus.io/port"] == metrics_port
    assert {p["containerPort"] for p in pyllm["ports"]} == {int(metrics_port)}
    component = _one(docs, "Component")
    _check_component(component, app_id)
    cache_dir = {m["name"]: m.get("value") for m in component["spec"]["metadata"]}["cacheDir"]
    assert cache_dir in {m["mountPath"] for m in pyllm["volumeMounts"]}


def test_injector_variant(tmp_path: Path) -> None:
    docs = _kustomize("deploy/injector", tmp_path)
    _validate(docs, tmp_path)
    pod = _one(docs, "Deployment")["spec"]["template"]
    notes = pod["metadata"]["annotations"]
    assert notes["dapr.io/inject-pluggable-components"] == "true"
    assert "dapr.io/pluggable-components" not in notes
    assert [c["name"] for c in pod["spec"]["containers"]] == ["chat-app"]
    component = _one(docs, "Component")
    _check_component(component, notes["dapr.io/app-id"])
    container = json.loads(component["metadata"]["annotations"]["dapr.io/component-container"])
    assert container["name"] == "pyllm"
    volumes = {v["name"] for v in pod["spec"]["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes
