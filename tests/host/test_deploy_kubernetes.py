"""deploy/kubernetes/ validated offline against the Kubernetes API schemas
(kubernetes-validate, strict: no unknown field), and held to what the deployment needs:
two replicas probed on the ops port, a non-root read-only pod, the migration Job, the
Secrets referenced and never committed, a NetworkPolicy for every workload."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.cli_check import check_argv

from gateway.host.config import GatewayConfig

K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"
"""The oldest Kubernetes these manifests are written for (validated against its schemas)."""
OPS_PORT = 9464
UID = 10001


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


DOCS = _documents()


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in DOCS if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in found])
    return found[0]


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    return dict(workload["spec"]["template"]["spec"])


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_matches_the_api_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_wrong_manifest() -> None:
    bad = json.loads(json.dumps(_one("Deployment")))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(result.stdout) if d)
    assert kinds == sorted(d["kind"] for d in DOCS)


def test_two_replicas_probed_on_the_ops_port() -> None:
    deployment = _one("Deployment", "xinlian-gateway")
    assert deployment["spec"]["replicas"] == 2
    (container,) = _pod(deployment)["containers"]
    check_argv(container["args"])
    assert container["args"][:2] == ["gateway", "serve"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["ops"] == OPS_PORT
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ("ops", OPS_PORT)


def test_pods_run_non_root_on_a_read_only_root() -> None:
    for workload in (_one("Deployment"), _one("Job")):
        pod = _pod(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == UID
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


def test_migration_job_runs_migrate() -> None:
    job = _one("Job")
    (container,) = _pod(job)["containers"]
    assert container["args"][:2] == ["gateway", "migrate"]
    check_argv(container["args"])
    assert _pod(job)["restartPolicy"] == "Never"


def test_services_for_mtls_and_enrollment() -> None:
    ports = {
        d["metadata"]["name"]: [p["port"] for p in d["spec"]["ports"]]
        for d in DOCS
        if d["kind"] == "Service"
    }
    assert ports["xinlian-mtls"] == [7443]
    assert ports["xinlian-enroll"] == [7444]


def test_secrets_are_referenced_and_none_is_committed() -> None:
    assert not [d for d in DOCS if d["kind"] == "Secret"]
    text = json.dumps(DOCS)
    assert "xinlian-home" in text and "xinlian-db" in text
    assert "PRIVATE KEY" not in "".join(p.read_text() for p in K8S.glob("*.yaml"))


def test_every_workload_has_a_network_policy() -> None:
    selected = [
        d["spec"]["podSelector"]["matchLabels"] for d in DOCS if d["kind"] == "NetworkPolicy"
    ]
    for workload in (_one("Deployment"), _one("Job")):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in selected), labels


def test_config_map_is_a_gateway_config(tmp_path: Path) -> None:
    # the ConfigMap's config.json loads as the gateway's config, listening in the pod
    data = _one("ConfigMap")["data"]["config.json"]
    (tmp_path / "config.json").write_text(data, encoding="utf-8")
    config = GatewayConfig.load(tmp_path)
    assert config.ops_listen == f"0.0.0.0:{OPS_PORT}"
    assert config.listen == "0.0.0.0:7443"
