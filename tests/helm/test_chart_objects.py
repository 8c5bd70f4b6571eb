"""What the rendered objects promise about the running service (issue 9, acceptance 3)."""

from __future__ import annotations

import base64
import json
import posixpath
from typing import Any

import helm_python as helm
import pytest
import yaml
from duckdb_spawn_server.config import VARIABLES, load_settings

from tests.helm.value_sets import CHART_TOKENS, EXISTING_SECRET, MONITORING, NETWORK_POLICY, TLS, VALUE_SETS
from tests.support.chart import (
    CHART,
    Manifest,
    chart_defaults,
    container_environment,
    loaded_chart,
    notes,
    of_kind,
    one,
    render,
    server_container,
    statefulset,
)

HANDLERS = {"exec", "httpGet", "tcpSocket", "grpc"}
PROBES = {"startupProbe": "", "readinessProbe": "", "livenessProbe": "liveness"}
# Set by the chart for its own use: the downward API's memory limit, which DUCKDB_MEMORY_LIMIT takes a share of.
CHART_HELPERS = {"CONTAINER_MEMORY_LIMIT_MIB"}

ALL_SETS = pytest.mark.parametrize("name", sorted(VALUE_SETS))


def environment(manifests: list[Manifest]) -> dict[str, str]:
    return container_environment(manifests, server_container(manifests))


def pod_spec(manifests: list[Manifest]) -> dict[str, Any]:
    return statefulset(manifests)["spec"]["template"]["spec"]


def render_fails(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    assert message in str(caught.value), str(caught.value)


# -- replicas ------------------------------------------------------------------------------------------
@ALL_SETS
def test_replicas_is_one_on_a_file_and_as_asked_on_a_lake(name: str) -> None:
    workload = statefulset(render(VALUE_SETS[name]))
    lake = VALUE_SETS[name].get("storage", {}).get("backend") == "ducklake"
    assert workload["kind"] == ("Deployment" if lake else "StatefulSet")
    assert workload["spec"]["replicas"] == (VALUE_SETS[name]["replicas"] if lake else 1)


@pytest.mark.parametrize("replicas", [2, 0, 3])
def test_the_values_schema_rejects_any_other_replica_count(replicas: int) -> None:
    with loaded_chart() as chart:
        with pytest.raises(helm.HelmValuesError, match="replicas"):
            chart.validate_schema(chart.merge_values({"replicas": replicas}))
    render_fails({"replicas": replicas}, "replicas")


def test_values_and_notes_explain_why_there_is_one_replica() -> None:
    values_text = (CHART / "values.yaml").read_text()
    assert "single writer" in values_text and "not even read-only" in values_text
    text = notes()
    assert "One replica" in text and "single writer" in text and "not even read-only" in text


# -- probes ----------------------------------------------------------------------------------------------
@ALL_SETS
def test_every_probe_has_one_grpc_handler_on_the_real_port(name: str) -> None:
    manifests = render(VALUE_SETS[name])
    container = server_container(manifests)
    env = environment(manifests)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    # Probes cannot speak TLS: with TLS on they use the plaintext health port the server opens.
    expected = int(env["HEALTH_PORT"]) if "TLS_CERT_FILE" in env else int(env["GRPC_PORT"])
    assert expected == (ports["health"] if "TLS_CERT_FILE" in env else ports["grpc"])
    for probe_name, service in PROBES.items():
        probe = container[probe_name]
        assert set(probe) & HANDLERS == {"grpc"}, f"{probe_name}: {probe}"
        assert probe["grpc"] == {"port": expected, "service": service}


def test_probe_overrides_change_timing_and_never_the_handler() -> None:
    container = server_container(render({"probes": {"liveness": {"periodSeconds": 30, "failureThreshold": 6}}}))
    assert container["livenessProbe"]["periodSeconds"] == 30 and container["livenessProbe"]["failureThreshold"] == 6
    assert container["livenessProbe"]["grpc"] == {"port": 50051, "service": "liveness"}
    for handler in ({"httpGet": {"path": "/", "port": 8080}}, {"exec": {"command": ["true"]}},
                    {"tcpSocket": {"port": 50051}}, {"grpc": {"port": 1}}):
        with loaded_chart() as chart:
            with pytest.raises(helm.HelmValuesError):
                chart.validate_schema(chart.merge_values({"probes": {"readiness": handler}}))


# -- the volume --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [{}, {"persistence": {"mountPath": "/srv/duckdb", "databaseFile": "x.duckdb"}},
                                    VALUE_SETS["production"]])
def test_the_volume_is_mounted_at_the_directory_of_duckdb_path(values: dict[str, Any]) -> None:
    manifests = render(values)
    claims = statefulset(manifests)["spec"]["volumeClaimTemplates"]
    assert len(claims) == 1
    claim = claims[0]
    mounts = {m["name"]: m["mountPath"] for m in server_container(manifests)["volumeMounts"]}
    database = environment(manifests)["DUCKDB_PATH"]
    assert posixpath.isabs(database)
    assert mounts[claim["metadata"]["name"]] == posixpath.dirname(database)
    assert set(claim["spec"]["accessModes"]) <= {"ReadWriteOnce", "ReadWriteOncePod"}
    retention = statefulset(manifests)["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert retention == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_shared_access_modes_are_refused() -> None:
    with loaded_chart() as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(chart.merge_values({"persistence": {"accessModes": ["ReadWriteMany"]}}))


# -- security ---------------------------------------------------------------------------------------------
def pods(manifests: list[Manifest]) -> list[dict[str, Any]]:
    """The server's pod template and the helm test pod."""
    return [pod_spec(manifests)] + [p["spec"] for p in of_kind(manifests, "Pod")]


@ALL_SETS
def test_the_security_context_is_as_specified(name: str) -> None:
    manifests = render(VALUE_SETS[name])
    for spec in pods(manifests):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001 and spec["securityContext"]["runAsGroup"] == 10001
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context.get("privileged", False) is False
            assert context.get("runAsUser", 10001) != 0
    server = pod_spec(manifests)
    assert server["securityContext"]["fsGroup"] == 10001  # the volume is writable by the uid
    tmp = next(m for m in server_container(manifests)["volumeMounts"] if m["mountPath"] == "/tmp")
    assert next(v for v in server["volumes"] if v["name"] == tmp["name"]).keys() >= {"emptyDir"}
    account = one(manifests, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert server["serviceAccountName"] == account["metadata"]["name"]


def test_the_service_account_token_is_mounted_only_when_asked_for() -> None:
    manifests = render({"serviceAccount": {"automountToken": True}})
    assert pod_spec(manifests)["automountServiceAccountToken"] is True
    assert one(manifests, "ServiceAccount")["automountServiceAccountToken"] is True


def test_root_is_refused() -> None:
    with loaded_chart() as chart:
        for context in ({"runAsUser": 0}, {"runAsGroup": 0}):
            with pytest.raises(helm.HelmValuesError):
                chart.validate_schema(chart.merge_values({"securityContext": context}))


# -- drain -------------------------------------------------------------------------------------------------
def grace_budget(manifests: list[Manifest]) -> tuple[int, float]:
    """(terminationGracePeriodSeconds, preStop sleep + SHUTDOWN_DRAIN_SECONDS + SHUTDOWN_GRACE_SECONDS)."""
    container = server_container(manifests)
    env = environment(manifests)
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert set(container["lifecycle"]["preStop"]) == {"sleep"}
    return (pod_spec(manifests)["terminationGracePeriodSeconds"],
            sleep + float(env["SHUTDOWN_DRAIN_SECONDS"]) + float(env["SHUTDOWN_GRACE_SECONDS"]))


@pytest.mark.parametrize("values", [{}, VALUE_SETS["production"], {"drain": {"drainSeconds": 0.5, "graceSeconds": 2.5}},
                                    {"terminationGracePeriodSeconds": 21}])
def test_the_grace_period_exceeds_prestop_drain_and_grace(values: dict[str, Any]) -> None:
    period, needed = grace_budget(render(values))
    assert period > needed


@pytest.mark.parametrize("period", [20, 5])
def test_a_grace_period_too_short_for_the_drain_is_refused(period: int) -> None:
    render_fails({"terminationGracePeriodSeconds": period}, "terminationGracePeriodSeconds")


# -- configuration -----------------------------------------------------------------------------------------
# The variables with a value of their own: values that set each one, and what the server then sees.
OWNED: dict[str, tuple[dict[str, Any], str]] = {
    "GRPC_HOST": ({"grpc": {"host": "[::]"}}, "[::]"),
    "GRPC_PORT": ({"grpc": {"port": 6000}}, "6000"),
    "METRICS_ENABLED": ({"metrics": {"enabled": False}}, "false"),
    "METRICS_PORT": ({"metrics": {"port": 6001}}, "6001"),
    "DUCKDB_PATH": ({"persistence": {"mountPath": "/srv/db", "databaseFile": "f.duckdb"}}, "/srv/db/f.duckdb"),
    "DUCKDB_THREADS": ({"duckdb": {"threads": 3}}, "3"),
    "DUCKDB_MEMORY_LIMIT": ({"duckdb": {"memoryLimit": "1500MiB"}}, "1500MiB"),
    "ONTO_SERVER_URL": ({"ontology": {"url": "https://onto.example:8443"}}, "https://onto.example:8443"),
    "USE_MOCK_ONTO_SERVER": ({"ontology": {"useMock": False}}, "false"),
    "ONTO_SCHEMA_IDS": ({"ontology": {"schemaIds": ["a_schema", "b_schema"]}}, "a_schema,b_schema"),
    "LOG_LEVEL": ({"logLevel": "DEBUG"}, "DEBUG"),
    "SHUTDOWN_DRAIN_SECONDS": ({"drain": {"drainSeconds": 7}}, "7"),
    "SHUTDOWN_GRACE_SECONDS": ({"drain": {"graceSeconds": 12.5}}, "12.5"),
    "AUTH_TOKENS_FILE": ({"auth": {"existingSecret": "s", "existingSecretKey": "t.yaml",
                                   "mountPath": "/etc/auth"}}, "/etc/auth/t.yaml"),
    "TLS_CERT_FILE": ({"tls": {"enabled": True, "secretName": "c", "mountPath": "/etc/tls"}}, "/etc/tls/tls.crt"),
    "TLS_KEY_FILE": ({"tls": {"enabled": True, "secretName": "c", "mountPath": "/etc/tls"}}, "/etc/tls/tls.key"),
    "STORAGE_BACKEND": ({"storage": {"backend": "ducklake", "lake": {"catalogSecret": {"name": "cat"},
                                                                      "dataPath": "s3://lake-bucket/p/"}}}, "ducklake"),
    "LAKE_CATALOG": ({"storage": {"lake": {"catalogSecret": {"name": "cat", "key": "dsn"}}}}, "secret:cat/dsn"),
    "LAKE_DATA_PATH": ({"storage": {"lake": {"dataPath": "s3://lake-bucket/p/"}}}, "s3://lake-bucket/p/"),
    "LAKE_METADATA_SCHEMA": ({"storage": {"lake": {"metadataSchema": "lake_x"}}}, "lake_x"),
    "LAKE_MAINTENANCE_INTERVAL": ({"storage": {"lake": {"maintenanceInterval": 60}}}, "60"),
    "LAKE_SNAPSHOT_RETENTION": ({"storage": {"lake": {"snapshotRetention": 3600}}}, "3600"),
    "LAKE_S3_ENDPOINT": ({"storage": {"lake": {"s3": {"endpoint": "minio:9000"}}}}, "minio:9000"),
    "LAKE_S3_REGION": ({"storage": {"lake": {"s3": {"region": "eu-west-1"}}}}, "eu-west-1"),
    "LAKE_S3_URL_STYLE": ({"storage": {"lake": {"s3": {"urlStyle": "path"}}}}, "path"),
    "LAKE_S3_USE_SSL": ({"storage": {"lake": {"s3": {"useSsl": False}}}}, "false"),
    "LAKE_S3_ACCESS_KEY_ID": ({"storage": {"lake": {"s3": {"credentialsSecret": {"name": "keys"}}}}},
                              "secret:keys/access-key-id"),
    "LAKE_S3_SECRET_ACCESS_KEY": ({"storage": {"lake": {"s3": {"credentialsSecret": {"name": "keys"}}}}},
                                  "secret:keys/secret-access-key"),
    "TLS_CLIENT_CA_FILE": ({"tls": {"enabled": True, "secretName": "c", "clientAuth": True,
                                    "mountPath": "/etc/tls"}}, "/etc/tls/ca.crt"),
    "HEALTH_PORT": ({"tls": {"enabled": True, "secretName": "c", "healthPort": 6002}}, "6002"),
}


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of value dicts (later wins), as several -f files would be."""
    result: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            else:
                result[key] = value
    return result


def test_every_variable_the_server_reads_is_settable_from_values() -> None:
    """Derived from config.VARIABLES at test time: a variable added to the server is covered at once."""
    names = [variable.name for variable in VARIABLES]
    generic = {name: f"from-values-{index}" for index, name in enumerate(names) if name not in OWNED}
    values = merged(*(OWNED[name][0] for name in names if name in OWNED), {"env": generic})
    env = environment(render(values))
    for name in names:
        expected = OWNED[name][1] if name in OWNED else generic[name]
        assert env.get(name) == expected, f"{name}: the container gets {env.get(name)!r}, not {expected!r}"


def test_the_values_of_their_own_give_the_server_a_configuration_it_accepts() -> None:
    values = merged(*(setting for setting, _ in OWNED.values()))
    env = environment(render(values))
    settings = load_settings({k: v for k, v in env.items() if k not in CHART_HELPERS})
    assert settings.grpc_port == 6000 and settings.duckdb_threads == 3 and settings.log_level == "DEBUG"
    assert settings.onto_schema_ids == ("a_schema", "b_schema")
    assert settings.health_port == 6002 and settings.tls_client_ca_file == "/etc/tls/ca.crt"
    assert settings.auth_tokens_file == "/etc/auth/t.yaml"


@ALL_SETS
def test_the_chart_sets_only_variables_the_server_reads(name: str) -> None:
    """A typo in the chart (ONTO_SCHEMA_ID) would be a setting silently ignored."""
    known = {variable.name for variable in VARIABLES} | CHART_HELPERS
    env = environment(render(VALUE_SETS[name]))
    extra = set(env) - known - set(VALUE_SETS[name].get("env", {}))
    assert not extra, f"the chart sets variables the server does not read: {sorted(extra)}"


@pytest.mark.parametrize("name", sorted(OWNED))
def test_env_refuses_a_variable_that_has_a_value_of_its_own(name: str) -> None:
    render_fails({"env": {name: "1"}}, f"env.{name}: set it with")


def test_env_values_keep_their_text() -> None:
    env = environment(render({"env": {"WRITE_QUEUE_SIZE": 1000000, "ONTO_CACHE_TTL": 0.5,
                                      "GRPC_MAX_CONCURRENT_RPCS": "512", "SOME_FLAG": True}}))
    assert env["WRITE_QUEUE_SIZE"] == "1000000" and env["ONTO_CACHE_TTL"] == "0.5"
    assert env["GRPC_MAX_CONCURRENT_RPCS"] == "512" and env["SOME_FLAG"] == "true"


@pytest.mark.parametrize(("resources", "percent", "threads", "memory"), [
    ({"limits": {"cpu": "2", "memory": "2Gi"}}, 75, "2", "1536MiB"),
    ({"limits": {"cpu": "3500m", "memory": "6Gi"}}, 60, "4", "3686MiB"),
    ({"limits": {"cpu": "500m", "memory": "1000M"}}, 80, "1", "763MiB"),  # 954MiB rounded up
])
def test_duckdb_is_sized_from_the_container_limits(resources: dict[str, Any], percent: int, threads: str,
                                                   memory: str) -> None:
    manifests = render({"resources": {"requests": {}, **resources}, "duckdb": {"memoryLimitPercent": percent}})
    env = environment(manifests)
    fields = {item["name"]: item["valueFrom"]["resourceFieldRef"]
              for item in server_container(manifests)["env"] if "valueFrom" in item}
    assert fields["DUCKDB_THREADS"]["resource"] == "limits.cpu"
    assert {ref["containerName"] for ref in fields.values()} == {"server"}
    assert env["DUCKDB_THREADS"] == threads
    settings = load_settings({name: env[name] for name in ("DUCKDB_THREADS", "DUCKDB_MEMORY_LIMIT")})
    assert (str(settings.duckdb_threads), settings.duckdb_memory_limit) == (threads, memory)


# -- secrets -------------------------------------------------------------------------------------------------
def mounted_file(manifests: list[Manifest], path: str) -> tuple[str, str]:
    """(Secret name, key) behind a file path in the server container."""
    container = server_container(manifests)
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/"))
    volume = next(v for v in pod_spec(manifests)["volumes"] if v["name"] == mount["name"])
    relative = path[len(mount["mountPath"].rstrip("/")) + 1:]
    item = next(i for i in volume["secret"]["items"] if i["path"] == relative)
    assert mount["readOnly"] is True
    return volume["secret"]["secretName"], item["key"]


def test_tokens_given_in_values_become_a_secret_mounted_as_the_tokens_file() -> None:
    manifests = render(CHART_TOKENS)
    secret_name, key = mounted_file(manifests, environment(manifests)["AUTH_TOKENS_FILE"])
    secret = one(manifests, "Secret", secret_name)
    assert base64.b64decode(secret["data"][key]).decode() == CHART_TOKENS["auth"]["tokens"]
    config_map = one(manifests, "ConfigMap", server_container(manifests)["envFrom"][0]["configMapRef"]["name"])
    assert CHART_TOKENS["auth"]["tokens"] not in json.dumps(config_map)
    assert "checksum/auth" in statefulset(manifests)["spec"]["template"]["metadata"]["annotations"]


def test_an_existing_secret_is_mounted_and_none_is_created() -> None:
    manifests = render(EXISTING_SECRET)
    assert of_kind(manifests, "Secret") == []
    secret_name, key = mounted_file(manifests, environment(manifests)["AUTH_TOKENS_FILE"])
    assert (secret_name, key) == ("platform-duckdb-tokens", "tokens.yaml")


def test_without_tokens_nothing_is_mounted_and_notes_say_where_the_admin_token_is() -> None:
    manifests = render()
    assert "AUTH_TOKENS_FILE" not in environment(manifests)
    assert of_kind(manifests, "Secret") == []
    assert "admin token" in notes()


def test_tokens_and_an_existing_secret_together_are_refused() -> None:
    with loaded_chart() as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(chart.merge_values({"auth": {"tokens": "x", "existingSecret": "y"}}))


def test_tls_comes_from_an_optional_secret_mount() -> None:
    manifests = render(TLS)
    env = environment(manifests)
    for variable, key in (("TLS_CERT_FILE", "tls.crt"), ("TLS_KEY_FILE", "tls.key"), ("TLS_CLIENT_CA_FILE", "ca.crt")):
        assert mounted_file(manifests, env[variable]) == ("duckdb-spawn-tls", key)
    assert not any(k.startswith("TLS_") for k in environment(render()))
    with loaded_chart() as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(chart.merge_values({"tls": {"enabled": True}}))  # no secretName


# -- service, monitoring, network policy, budget, tests --------------------------------------------------
def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def pod_labels(manifests: list[Manifest]) -> dict[str, str]:
    return statefulset(manifests)["spec"]["template"]["metadata"]["labels"]


def test_the_service_exposes_grpc_with_app_protocol_and_metrics() -> None:
    manifests = render()
    service = one(manifests, "Service", "demo-duckdb-spawn")
    ports = {port["name"]: port for port in service["spec"]["ports"]}
    assert ports["grpc"]["appProtocol"] == "grpc" and ports["grpc"]["port"] == 50051
    assert ports["metrics"]["port"] == 9464
    container_ports = {p["name"] for p in server_container(manifests)["ports"]}
    assert {p["targetPort"] for p in ports.values()} <= container_ports
    assert selects(service["spec"]["selector"], pod_labels(manifests))
    service_names = {s["metadata"]["name"] for s in of_kind(manifests, "Service")}
    assert statefulset(manifests)["spec"]["serviceName"] in service_names
    for test_pod in of_kind(manifests, "Pod"):  # a Service must never route to the helm test pod
        assert not selects(service["spec"]["selector"], test_pod["metadata"]["labels"])


def test_the_shipped_dashboard_and_rules_are_the_observability_files() -> None:
    manifests = render(MONITORING)
    dashboard_file = (CHART / "files" / "dashboard.json").read_text()
    rules_file = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    dashboards = [m for m in of_kind(manifests, "ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]
    assert len(dashboards) == 1
    (text,) = dashboards[0]["data"].values()
    assert text == dashboard_file.rstrip("\n")
    assert json.loads(text) == json.loads(dashboard_file)
    assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboards[0]["metadata"]["annotations"] == {"grafana_folder": "Data products"}
    assert one(manifests, "PrometheusRule")["spec"]["groups"] == rules_file["groups"]
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service", "demo-duckdb-spawn")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_each_optional_object_is_off_by_default() -> None:
    defaults = chart_defaults()
    for key in ("serviceMonitor", "prometheusRule", "dashboard", "networkPolicy", "podDisruptionBudget"):
        assert defaults[key]["enabled"] is False
    kinds = {m["kind"] for m in render()}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget"}


def test_the_network_policy_admits_clients_the_test_pod_and_scrapers_only() -> None:
    manifests = render(NETWORK_POLICY)
    policy = one(manifests, "NetworkPolicy")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels(manifests))
    container_ports = {p["name"] for p in server_container(manifests)["ports"]}
    ingress = {rule["ports"][0]["port"]: rule["from"] for rule in policy["spec"]["ingress"]}
    assert set(ingress) <= container_ports
    test_pod = one(manifests, "Pod")
    assert any("podSelector" in peer and selects(peer["podSelector"]["matchLabels"], test_pod["metadata"]["labels"])
               for peer in ingress["grpc"])
    assert NETWORK_POLICY["networkPolicy"]["grpcFrom"][0] in ingress["grpc"]
    assert ingress["metrics"] == NETWORK_POLICY["networkPolicy"]["metricsFrom"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_the_disruption_budget_covers_the_pod() -> None:
    manifests = render(VALUE_SETS["pdb"])
    budget = one(manifests, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert selects(budget["spec"]["selector"]["matchLabels"], pod_labels(manifests))
    assert one(render({"podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}}),
               "PodDisruptionBudget")["spec"] == {"maxUnavailable": 1, "selector": budget["spec"]["selector"]}


@pytest.mark.parametrize("values", [{}, TLS])
def test_notes_give_a_port_forward_and_a_grpcurl_line_and_helm_test_checks_health(values: dict[str, Any]) -> None:
    text = notes(values)
    assert "kubectl --namespace data-products port-forward svc/demo-duckdb-spawn 50051:50051" in text
    assert "grpcurl" in text and "localhost:50051 grpc.health.v1.Health/Check" in text
    assert "helm test demo" in text
    test_pod = one(render(values), "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = test_pod["spec"]["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "duckdb_spawn_server.healthcheck"]
    assert "--service=" in command and "--service=liveness" in command
    port = 50052 if values else 50051
    assert command[-1] == f"demo-duckdb-spawn:{port}"
    service_ports = {p["port"] for p in one(render(values), "Service", "demo-duckdb-spawn")["spec"]["ports"]}
    assert port in service_ports


# -- the lake mode -------------------------------------------------------------------------------------
def test_a_lake_runs_a_deployment_whose_pods_keep_only_scratch() -> None:
    manifests = render(VALUE_SETS["lake-s3"])
    workload = statefulset(manifests)
    spec = workload["spec"]["template"]["spec"]
    assert "volumeClaimTemplates" not in workload["spec"]
    assert spec["volumes"][[v["name"] for v in spec["volumes"]].index("data")].get("emptyDir") is not None
    assert workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "a rollout keeps every replica"
    env = environment(manifests)
    assert env["STORAGE_BACKEND"] == "ducklake" and env["LAKE_DATA_PATH"] == "s3://financing-lake/projects/"
    assert env["LAKE_CATALOG"] == "secret:financing-lake-catalog/catalog"
    assert env["LAKE_S3_SECRET_ACCESS_KEY"] == "secret:financing-lake-s3/secret-access-key"
    config_map = of_kind(manifests, "ConfigMap")[0]["data"]
    assert not {"LAKE_CATALOG", "LAKE_S3_ACCESS_KEY_ID", "LAKE_S3_SECRET_ACCESS_KEY"} & set(config_map), \
        "secrets stay in Secrets"
    keys = [c["topologyKey"] for c in spec["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    selector = workload["spec"]["selector"]["matchLabels"]
    assert all(c["labelSelector"]["matchLabels"] == selector for c in spec["topologySpreadConstraints"])
    assert one(manifests, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    load_settings({k: v for k, v in env.items() if k not in CHART_HELPERS})  # the server accepts it


def test_a_lake_on_a_shared_volume_mounts_the_claim_as_its_data_path() -> None:
    manifests = render(VALUE_SETS["lake-volume"])
    spec = statefulset(manifests)["spec"]["template"]["spec"]
    lake = next(v for v in spec["volumes"] if v["name"] == "lake")
    assert lake["persistentVolumeClaim"]["claimName"] == "financing-lake-files"
    mount = next(m for m in server_container(manifests)["volumeMounts"] if m["name"] == "lake")
    assert environment(manifests)["LAKE_DATA_PATH"] == mount["mountPath"] + "/"


@pytest.mark.parametrize(("lake", "message"), [
    ({"dataPath": "s3://lake-bucket/p/"}, "catalogSecret.name"),
    ({"catalogSecret": {"name": "c"}}, "exactly one of dataPath"),
    ({"catalogSecret": {"name": "c"}, "dataPath": "s3://lake-bucket/p/", "sharedClaim": "x"},
     "exactly one of dataPath"),
])
def test_a_lake_without_its_catalog_or_with_two_data_paths_is_refused(lake: dict[str, Any], message: str) -> None:
    render_fails({"storage": {"backend": "ducklake", "lake": lake}}, message)


def test_the_values_schema_allows_more_replicas_only_on_a_lake() -> None:
    with loaded_chart() as chart:
        chart.validate_schema(chart.merge_values(VALUE_SETS["lake-s3"]))
        with pytest.raises(helm.HelmValuesError, match="replicas"):
            chart.validate_schema(chart.merge_values({"replicas": 3}))
