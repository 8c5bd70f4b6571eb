"""The Helm chart, rendered offline, and what the kubelet would make of it.

`render` runs Helm's own template engine (helm-python-sdk binds Helm's Go SDK;
no helm binary, no cluster). `container_environment` resolves a container's
environment the way the kubelet does: ConfigMaps from `envFrom`, then `env`
in order, with the downward API's `resourceFieldRef` and `$(VAR)` expansion.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from tests.support.servers import REPO

CHART = REPO / "helm" / "duckdb-spawn"
RELEASE = "demo"
NAMESPACE = "data-products"

Manifest = dict[str, Any]


@contextmanager
def loaded_chart() -> Iterator[helm.Chart]:
    chart = helm.Chart.load(CHART)
    try:
        yield chart
    finally:
        chart.close()


def render_files(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would print it."""
    with loaded_chart() as chart:
        return chart.render(dict(values or {}), name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: Mapping[str, Any] | None = None) -> list[Manifest]:
    """Every Kubernetes object the chart renders with `values` (NOTES.txt aside)."""
    manifests: list[Manifest] = []
    for path, text in sorted(render_files(values).items()):
        if path.endswith("NOTES.txt"):
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def notes(values: Mapping[str, Any] | None = None) -> str:
    return next(text for path, text in render_files(values).items() if path.endswith("NOTES.txt"))


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if name is None or m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[m['metadata']['name'] for m in found]}"
    return found[0]


def statefulset(manifests: list[Manifest]) -> Manifest:
    """The server's workload: a StatefulSet (one DuckDB file), or a Deployment (a DuckLake)."""
    workloads = of_kind(manifests, "StatefulSet") + of_kind(manifests, "Deployment")
    assert len(workloads) == 1, f"expected one workload, found {[m['kind'] for m in workloads]}"
    return workloads[0]


def server_container(manifests: list[Manifest]) -> Manifest:
    containers = statefulset(manifests)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "server")


def chart_defaults() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


# -- quantities and the downward API ------------------------------------------------------------
_SUFFIX = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
           "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(text: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("500m", "2Gi", 3) as a plain number."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)", str(text).strip())
    assert match and match.group(2) in _SUFFIX, f"not a quantity: {text!r}"
    return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2)])


# What a node offers a container without limits (the downward API falls back to it).
NODE_ALLOCATABLE = {"limits.cpu": "8", "limits.memory": "32Gi", "requests.cpu": "0", "requests.memory": "0"}


def _resource_field(container: Manifest, ref: Mapping[str, Any]) -> str:
    kind, _, name = ref["resource"].partition(".")
    declared = container.get("resources", {}).get(kind, {})
    amount = quantity(declared.get(name, NODE_ALLOCATABLE[ref["resource"]]))
    divisor = quantity(ref.get("divisor", "1"))
    return str(math.ceil(amount / divisor))  # the kubelet rounds up


def _expand(text: str, env: Mapping[str, str]) -> str:
    """$(VAR) from earlier variables; $$ escapes; unknown references stay as written."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", replace, text)


def container_environment(manifests: list[Manifest], container: Manifest) -> dict[str, str]:
    """The environment the kubelet gives `container` (ConfigMaps, the downward API; Secrets by name)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        config_map = one(manifests, "ConfigMap", source["configMapRef"]["name"])
        env.update({source.get("prefix", "") + key: value for key, value in config_map["data"].items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = _expand(item["value"], env)
        elif "resourceFieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = _resource_field(container, item["valueFrom"]["resourceFieldRef"])
        elif "secretKeyRef" in item.get("valueFrom", {}):  # shown as where it comes from, never a value
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = f"secret:{ref['name']}/{ref['key']}"
        else:
            raise AssertionError(f"no emulation for {item}")
    return env


# -- the Dockerfile ----------------------------------------------------------------------------------
DOCKERFILE = REPO / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def relative_to_volume(path: str, mount_path: str, volume_dir: Path) -> str:
    """A path inside the container's volume, moved to the same place under `volume_dir`."""
    assert path.startswith(mount_path.rstrip("/") + "/"), f"{path} is not on the volume {mount_path}"
    return str(volume_dir / path[len(mount_path.rstrip("/")) + 1:])
