"""Value sets the chart must render with: what platform teams will actually pass."""

from __future__ import annotations

from typing import Any

TLS = {"tls": {"enabled": True, "secretName": "duckdb-spawn-tls", "clientAuth": True}}
EXISTING_SECRET = {"auth": {"existingSecret": "platform-duckdb-tokens", "existingSecretKey": "tokens.yaml"}}
CHART_TOKENS = {"auth": {"tokens": "- name: ci\n  role: admin\n  token: not-a-real-token\n"}}
MONITORING = {
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}, "interval": "15s"},
    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "dashboard": {"enabled": True, "annotations": {"grafana_folder": "Data products"}},
}
NETWORK_POLICY = {
    "networkPolicy": {
        "enabled": True,
        "grpcFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "analytics"}}}],
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "egress": {"enabled": True, "to": [{"to": [{"podSelector": {"matchLabels": {"app": "ontology-server"}}}],
                                             "ports": [{"port": 8001, "protocol": "TCP"}]}]},
    },
}
CUSTOM_RESOURCES = {
    "resources": {"requests": {"cpu": "250m", "memory": "3Gi"}, "limits": {"cpu": "3500m", "memory": "6Gi"}},
    "duckdb": {"memoryLimitPercent": 60},
}
PDB = {"podDisruptionBudget": {"enabled": True}}
PRODUCTION = {
    **TLS, **EXISTING_SECRET, **MONITORING, **NETWORK_POLICY, **CUSTOM_RESOURCES, **PDB,
    "image": {"repository": "registry.example/data/duckdb-spawn",
              "digest": "sha256:" + "ab" * 32},
    "persistence": {"mountPath": "/data", "databaseFile": "financing.duckdb", "size": "200Gi",
                    "storageClassName": "fast-ssd", "accessModes": ["ReadWriteOncePod"]},
    "ontology": {"url": "https://ontology.governance.svc:8443", "useMock": False,
                 "schemaIds": ["project_schema", "loan_schema"]},
    "drain": {"preStopSleepSeconds": 10, "drainSeconds": 15, "graceSeconds": 30, "closeSeconds": 60},
    "env": {"WRITE_QUEUE_SIZE": 20000, "ONTO_CACHE_TTL": "120"},
    "logLevel": "WARNING",
}

# Three replicas over one DuckLake: the catalog's connection string and the S3 keys from Secrets.
LAKE_S3 = {
    **PDB, "replicas": 3,
    "storage": {"backend": "ducklake", "lake": {
        "catalogSecret": {"name": "financing-lake-catalog"}, "dataPath": "s3://financing-lake/projects/",
        "s3": {"endpoint": "minio.storage.svc:9000", "urlStyle": "path", "useSsl": False,
               "credentialsSecret": {"name": "financing-lake-s3"}}}},
}
# The same on a ReadWriteMany volume.
LAKE_VOLUME = {
    "replicas": 2,
    "storage": {"backend": "ducklake", "lake": {"catalogSecret": {"name": "financing-lake-catalog"},
                                                "sharedClaim": "financing-lake-files"}},
}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "tls": TLS,
    "existing-secret": EXISTING_SECRET,
    "chart-tokens": CHART_TOKENS,
    "monitoring": MONITORING,
    "network-policy": NETWORK_POLICY,
    "custom-resources": CUSTOM_RESOURCES,
    "pdb": PDB,
    "production": PRODUCTION,
    "lake-s3": LAKE_S3,
    "lake-volume": LAKE_VOLUME,
}
