{{/* Names and labels. */}}
{{- define "duckdb-spawn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "duckdb-spawn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "duckdb-spawn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "duckdb-spawn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "duckdb-spawn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "duckdb-spawn.labels" -}}
helm.sh/chart: {{ include "duckdb-spawn.chart" . }}
{{ include "duckdb-spawn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: duckdb-spawn
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The label a pod carries to be let through the NetworkPolicy to the gRPC port. */}}
{{- define "duckdb-spawn.clientLabel" -}}
{{ include "duckdb-spawn.fullname" . | trunc 56 | trimSuffix "-" }}-client
{{- end }}

{{- define "duckdb-spawn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "duckdb-spawn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "duckdb-spawn.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The port the kubelet's gRPC probes and the helm test use: plaintext health when TLS is on. */}}
{{- define "duckdb-spawn.healthPort" -}}
{{- if .Values.tls.enabled }}{{ .Values.tls.healthPort }}{{ else }}{{ .Values.grpc.port }}{{ end }}
{{- end }}

{{- define "duckdb-spawn.databasePath" -}}
{{- printf "%s/%s" (trimSuffix "/" .Values.persistence.mountPath) .Values.persistence.databaseFile }}
{{- end }}

{{- define "duckdb-spawn.tokensSecretName" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecret }}{{ else }}{{ include "duckdb-spawn.fullname" . }}-auth{{ end }}
{{- end }}

{{- define "duckdb-spawn.tokensKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}tokens{{ end }}
{{- end }}

{{- define "duckdb-spawn.authEnabled" -}}
{{- if or .Values.auth.tokens .Values.auth.existingSecret }}true{{ end }}
{{- end }}

{{/* A value as environment text: whole numbers without the float formatting YAML gives them. */}}
{{- define "duckdb-spawn.envText" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}
{{- else }}{{ toString . }}
{{- end }}
{{- end }}

{{- define "duckdb-spawn.terminationGracePeriodSeconds" -}}
{{- $d := .Values.drain }}
{{- $needed := add (int $d.preStopSleepSeconds) (int (ceil $d.drainSeconds)) (int (ceil $d.graceSeconds)) }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $needed (int $d.closeSeconds) }}
{{- else if le (int .Values.terminationGracePeriodSeconds) $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be greater than drain.preStopSleepSeconds + drain.drainSeconds + drain.graceSeconds (%d), or the kubelet kills the server while calls are still finishing" (int .Values.terminationGracePeriodSeconds) $needed) }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
The variables with a value of their own, and that value's name. `env` may not set them:
two places for one setting would let ports, probes and mounts disagree with the server.
*/}}
{{- define "duckdb-spawn.ownedVariables" -}}
GRPC_HOST: grpc.host
GRPC_PORT: grpc.port
METRICS_ENABLED: metrics.enabled
METRICS_PORT: metrics.port
DUCKDB_PATH: persistence.mountPath and persistence.databaseFile
DUCKDB_THREADS: duckdb.threads
DUCKDB_MEMORY_LIMIT: duckdb.memoryLimit or duckdb.memoryLimitPercent
ONTO_SERVER_URL: ontology.url
USE_MOCK_ONTO_SERVER: ontology.useMock
ONTO_SCHEMA_IDS: ontology.schemaIds
LOG_LEVEL: logLevel
SHUTDOWN_DRAIN_SECONDS: drain.drainSeconds
SHUTDOWN_GRACE_SECONDS: drain.graceSeconds
AUTH_TOKENS_FILE: auth.tokens or auth.existingSecret
TLS_CERT_FILE: tls.enabled and tls.secretName
TLS_KEY_FILE: tls.enabled and tls.secretName
TLS_CLIENT_CA_FILE: tls.clientAuth
HEALTH_PORT: tls.healthPort
STORAGE_BACKEND: storage.backend
LAKE_CATALOG: storage.lake.catalogSecret
LAKE_DATA_PATH: storage.lake.dataPath or storage.lake.sharedClaim
LAKE_METADATA_SCHEMA: storage.lake.metadataSchema
LAKE_MAINTENANCE_INTERVAL: storage.lake.maintenanceInterval
LAKE_SNAPSHOT_RETENTION: storage.lake.snapshotRetention
LAKE_S3_ENDPOINT: storage.lake.s3.endpoint
LAKE_S3_REGION: storage.lake.s3.region
LAKE_S3_URL_STYLE: storage.lake.s3.urlStyle
LAKE_S3_USE_SSL: storage.lake.s3.useSsl
LAKE_S3_ACCESS_KEY_ID: storage.lake.s3.credentialsSecret
LAKE_S3_SECRET_ACCESS_KEY: storage.lake.s3.credentialsSecret
{{- end }}

{{/* "true" when the release runs on a DuckLake (storage.backend ducklake), after checking its values. */}}
{{- define "duckdb-spawn.lake" -}}
{{- if eq .Values.storage.backend "ducklake" }}
{{- $lake := .Values.storage.lake }}
{{- if not $lake.catalogSecret.name }}
{{- fail "storage.lake.catalogSecret.name: ducklake needs the Secret holding the catalog's connection string" }}
{{- end }}
{{- if eq (not $lake.dataPath) (not $lake.sharedClaim) }}
{{- fail "storage.lake: set exactly one of dataPath (s3://...) and sharedClaim (a ReadWriteMany claim)" }}
{{- end }}
{{- true }}
{{- end }}
{{- end }}

{{/* Every variable the ConfigMap holds, as YAML: the values above, then `env`. */}}
{{- define "duckdb-spawn.config" -}}
{{- $v := .Values }}
{{- $c := dict }}
{{- $_ := set $c "GRPC_HOST" $v.grpc.host }}
{{- $_ = set $c "GRPC_PORT" (include "duckdb-spawn.envText" $v.grpc.port) }}
{{- $_ = set $c "METRICS_ENABLED" (toString $v.metrics.enabled) }}
{{- $_ = set $c "METRICS_PORT" (include "duckdb-spawn.envText" $v.metrics.port) }}
{{- $_ = set $c "DUCKDB_PATH" (include "duckdb-spawn.databasePath" .) }}
{{- if not (eq (toString $v.duckdb.threads) "") }}
{{- $_ = set $c "DUCKDB_THREADS" (include "duckdb-spawn.envText" $v.duckdb.threads) }}
{{- end }}
{{- if $v.duckdb.memoryLimit }}
{{- $_ = set $c "DUCKDB_MEMORY_LIMIT" $v.duckdb.memoryLimit }}
{{- end }}
{{- $_ = set $c "ONTO_SERVER_URL" $v.ontology.url }}
{{- $_ = set $c "USE_MOCK_ONTO_SERVER" (toString $v.ontology.useMock) }}
{{- $_ = set $c "ONTO_SCHEMA_IDS" (join "," $v.ontology.schemaIds) }}
{{- $_ = set $c "LOG_LEVEL" $v.logLevel }}
{{- $_ = set $c "SHUTDOWN_DRAIN_SECONDS" (include "duckdb-spawn.envText" $v.drain.drainSeconds) }}
{{- $_ = set $c "SHUTDOWN_GRACE_SECONDS" (include "duckdb-spawn.envText" $v.drain.graceSeconds) }}
{{- if include "duckdb-spawn.authEnabled" . }}
{{- $_ = set $c "AUTH_TOKENS_FILE" (printf "%s/%s" (trimSuffix "/" $v.auth.mountPath) (include "duckdb-spawn.tokensKey" .)) }}
{{- end }}
{{- if $v.tls.enabled }}
{{- $tls := trimSuffix "/" $v.tls.mountPath }}
{{- $_ = set $c "TLS_CERT_FILE" (printf "%s/tls.crt" $tls) }}
{{- $_ = set $c "TLS_KEY_FILE" (printf "%s/tls.key" $tls) }}
{{- if $v.tls.clientAuth }}
{{- $_ = set $c "TLS_CLIENT_CA_FILE" (printf "%s/ca.crt" $tls) }}
{{- end }}
{{- $_ = set $c "HEALTH_PORT" (include "duckdb-spawn.envText" $v.tls.healthPort) }}
{{- end }}
{{- if include "duckdb-spawn.lake" . }}
{{- $lake := $v.storage.lake }}
{{- $_ = set $c "STORAGE_BACKEND" "ducklake" }}
{{- $_ = set $c "LAKE_DATA_PATH" (default (printf "%s/" (trimSuffix "/" $lake.sharedMountPath)) $lake.dataPath) }}
{{- $_ = set $c "LAKE_METADATA_SCHEMA" $lake.metadataSchema }}
{{- $_ = set $c "LAKE_MAINTENANCE_INTERVAL" (include "duckdb-spawn.envText" $lake.maintenanceInterval) }}
{{- $_ = set $c "LAKE_SNAPSHOT_RETENTION" (include "duckdb-spawn.envText" $lake.snapshotRetention) }}
{{- if $lake.dataPath }}
{{- $_ = set $c "LAKE_S3_ENDPOINT" $lake.s3.endpoint }}
{{- $_ = set $c "LAKE_S3_REGION" $lake.s3.region }}
{{- $_ = set $c "LAKE_S3_URL_STYLE" $lake.s3.urlStyle }}
{{- $_ = set $c "LAKE_S3_USE_SSL" (toString $lake.s3.useSsl) }}
{{- end }}
{{- end }}
{{- $owned := include "duckdb-spawn.ownedVariables" . | fromYaml }}
{{- range $name, $value := $v.env }}
{{- if hasKey $owned $name }}
{{- fail (printf "env.%s: set it with %s instead" $name (get $owned $name)) }}
{{- end }}
{{- $_ = set $c $name (include "duckdb-spawn.envText" $value) }}
{{- end }}
{{- toYaml $c }}
{{- end }}
