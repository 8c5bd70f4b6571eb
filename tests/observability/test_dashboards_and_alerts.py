"""Acceptance 4: the Grafana dashboard and the Prometheus alert rules the Helm chart ships.

The dashboard is type-checked against Grafana's published dashboard schema (@grafana/schema,
installed by `make test`); the rules are checked and unit-tested by promtool (from Debian's
prometheus package, installed by `make test` where Debian's packages can be had) and always
by a JSON Schema of the rules file format. Every query and expression must name a metric a
live server exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.metrics import exported_names
from tests.support.promql import grafana_to_promql, metric_names
from tests.support.servers import BIN, REPO, in_process_server

FILES = REPO / "helm" / "duckdb-spawn" / "files"
DASHBOARD = FILES / "dashboard.json"
ALERTS = FILES / "alerts.yaml"
GRAFANA_CHECK = REPO / "build" / "grafana-schema"
CHECK_TEMPLATE = Path(__file__).parent / "grafana_schema" / "check.ts.in"
PROMTOOL = shutil.which("promtool", path=str(BIN))

# The Prometheus rules file format (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/).
DURATION = r"^((\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?|0)$"
RULES_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["groups"],
    "properties": {"groups": {"type": "array", "minItems": 1, "items": {
        "type": "object", "additionalProperties": False, "required": ["name", "rules"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "interval": {"type": "string", "pattern": DURATION},
            "limit": {"type": "integer", "minimum": 0},
            "rules": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["expr"],
                "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                "properties": {
                    "alert": {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
                    "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
                    "expr": {"type": "string", "minLength": 1},
                    "for": {"type": "string", "pattern": DURATION},
                    "keep_firing_for": {"type": "string", "pattern": DURATION},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                }}}}}}},
}


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def _dashboard_queries(dashboard: dict) -> list[str]:
    queries = [target["expr"] for panel in _panels(dashboard) for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query["query"])
            assert match, query
            queries.append(match.group(1))
    return queries


def _alert_expressions() -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    with in_process_server(tmp_path_factory.mktemp("names") / "n.duckdb") as (server, _):
        return exported_names(server.app.metrics_port)


def _typecheck(dashboard_json: str, tmp_name: str) -> subprocess.CompletedProcess[str]:
    tsc = GRAFANA_CHECK / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "run `make test` (it installs @grafana/schema and TypeScript into build/grafana-schema)"
    source = GRAFANA_CHECK / f"{tmp_name}.ts"
    source.write_text(CHECK_TEMPLATE.read_text().replace("__DASHBOARD_JSON__", dashboard_json))
    return subprocess.run([str(tsc), "--noEmit", "--strict", "--target", "es2022", "--module", "commonjs",
                           "--moduleResolution", "node10", "--skipLibCheck", str(source)],
                          capture_output=True, text=True, timeout=300, cwd=GRAFANA_CHECK)


def test_the_dashboard_is_a_valid_grafana_dashboard_model() -> None:
    result = _typecheck(DASHBOARD.read_text(), "dashboard_check")
    assert result.returncode == 0, result.stdout + result.stderr

    # The check has teeth: a wrong type and an unknown property are both caught.
    broken = _dashboard()
    broken["panels"][1]["gridPos"]["h"] = "eight"
    broken["panels"][2]["fieldConfig"]["defaults"]["colour"] = "red"
    result = _typecheck(json.dumps(broken), "dashboard_broken")
    assert result.returncode != 0
    assert "'string' is not assignable to type 'number'" in result.stdout
    assert "'\"colour\"' does not exist" in result.stdout


def test_the_dashboard_covers_what_operators_watch() -> None:
    dashboard = _dashboard()
    titles = {panel["title"] for panel in _panels(dashboard)}
    for expected in ("RPC rate by method", "Error ratio", "p50 latency by method", "p99 latency by method",
                     "Pool saturation", "Schema cache age", "Schema source", "Ontology server", "Database size",
                     "Rows", "Change log size", "Oldest change age", "Watchers", "Changes delivered"):
        assert expected in titles
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids))
    assert all(t["refId"] for p in _panels(dashboard) for t in p.get("targets", []))


def test_every_dashboard_query_names_an_exported_metric(exported: set[str]) -> None:
    queries = _dashboard_queries(_dashboard())
    assert len(queries) > 20
    for query in queries:
        names = metric_names(grafana_to_promql(query))
        assert names, query
        assert names <= exported, (query, names - exported)


def test_every_alert_expression_names_an_exported_metric(exported: set[str]) -> None:
    for expression in _alert_expressions():
        names = metric_names(expression)
        assert names and names <= exported, (expression, names - exported)


def test_the_alert_rules_match_the_prometheus_rules_format() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    jsonschema.validate(rules, RULES_SCHEMA)
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    for expected in ("DuckdbSpawnHighErrorRatio", "DuckdbSpawnHighLatency", "DuckdbSpawnSchemaStale",
                     "DuckdbSpawnOntologyDown", "DuckdbSpawnDiskNearlyFull", "DuckdbSpawnNotReady"):
        assert expected in alerts
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "up", "for": "ten"}]}]},
                            RULES_SCHEMA)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool could not be installed from Debian's packages")
def test_promtool_accepts_and_unit_tests_the_alert_rules() -> None:
    check = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([PROMTOOL, "test", "rules", str(Path(__file__).parent / "promtool" / "alerts_test.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert unit.returncode == 0, unit.stdout + unit.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool could not be installed from Debian's packages")
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    queries = [grafana_to_promql(q) for q in _dashboard_queries(_dashboard())]
    as_rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": q}
                                                            for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard_queries.yaml"
    path.write_text(yaml.safe_dump(as_rules))
    check = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
