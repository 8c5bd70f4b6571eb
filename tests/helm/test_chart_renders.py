"""The chart lints clean and renders valid Kubernetes objects for every value set (issue 9, 1 and 2)."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

from tests.helm.value_sets import VALUE_SETS
from tests.support.chart import CHART, of_kind, one, render

# The oldest Kubernetes the chart claims (Chart.yaml kubeVersion) and the newest one known.
OLDEST = "1.30.0"
CURRENT = latest_version()
# prometheus-operator's kinds: kubernetes-validate has no schema for them; checked field by field below.
OPERATOR_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}

EXPECTED_KINDS = {
    "default": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod"},
    "tls": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod"},
    "existing-secret": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod"},
    "chart-tokens": {"ConfigMap", "Secret", "Service", "ServiceAccount", "StatefulSet", "Pod"},
    "monitoring": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod", "ServiceMonitor",
                   "PrometheusRule"},
    "network-policy": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod", "NetworkPolicy"},
    "custom-resources": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod"},
    "pdb": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod", "PodDisruptionBudget"},
    "production": {"ConfigMap", "Service", "ServiceAccount", "StatefulSet", "Pod", "ServiceMonitor",
                   "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget"},
    "lake-s3": {"ConfigMap", "Service", "ServiceAccount", "Deployment", "Pod", "PodDisruptionBudget"},
    "lake-volume": {"ConfigMap", "Service", "ServiceAccount", "Deployment", "Pod"},
}


def test_the_chart_declares_the_kubernetes_versions_it_is_validated_against() -> None:
    metadata = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert metadata["kubeVersion"] == f">={OLDEST}-0"
    assert tuple(int(part) for part in CURRENT.split(".")[:2]) >= (1, 35), "kubernetes-validate is too old"


@pytest.mark.parametrize("kube_version", [OLDEST, CURRENT])
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_chart_lints_clean_in_strict_mode(name: str, kube_version: str) -> None:
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, kube_version=f"v{kube_version}")
    assert report["errors"] == [], report
    # Only informational notes (severity 1, "icon is recommended"): no warnings, no errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report
    assert report["total_charts_linted"] == 1


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_each_value_set_renders_the_objects_it_asks_for(name: str) -> None:
    manifests = render(VALUE_SETS[name])
    assert {m["kind"] for m in manifests} == EXPECTED_KINDS[name]
    assert len(of_kind(manifests, "StatefulSet") + of_kind(manifests, "Deployment")) == 1
    names = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(names) == len(set(names)), f"duplicate objects: {names}"


@pytest.mark.parametrize("kube_version", [OLDEST, CURRENT])
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_object_validates_strictly(name: str, kube_version: str) -> None:
    checked = 0
    for manifest in render(VALUE_SETS[name]):
        if (manifest["apiVersion"], manifest["kind"]) in OPERATOR_KINDS:
            with pytest.raises(SchemaNotFoundError):
                kubernetes_validate.validate(manifest, kube_version, strict=True)
            continue
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']} at {where}: {error.message}")
        checked += 1
    assert checked >= 5


def test_strict_validation_would_catch_a_misspelt_field() -> None:
    """The validator is strict indeed: one unknown field fails the StatefulSet."""
    manifest: dict[str, Any] = one(render(), "StatefulSet")
    manifest["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpcc"] = {"port": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, CURRENT, strict=True)


def test_the_operator_objects_have_the_fields_prometheus_operator_reads() -> None:
    manifests = render(VALUE_SETS["monitoring"])
    monitor = one(manifests, "ServiceMonitor")
    assert set(monitor["spec"]) == {"selector", "namespaceSelector", "endpoints"}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for endpoint in monitor["spec"]["endpoints"]:
        assert set(endpoint) <= {"port", "path", "scheme", "interval", "scrapeTimeout"}
        assert endpoint["interval"] == "15s"
    rule = one(manifests, "PrometheusRule")
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit", "labels", "query_offset"}
        for entry in group["rules"]:
            assert ("alert" in entry) != ("record" in entry) and entry["expr"], entry
