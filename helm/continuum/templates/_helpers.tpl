{{/*
Names, labels, image references, connection settings and value checks shared by every template.
*/}}

{{- define "continuum.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name: <release>-continuum, or the release name when it contains the chart name. */}}
{{- define "continuum.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "continuum.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. Call with (dict "ctx" $ "component" "runtime"). */}}
{{- define "continuum.labels" -}}
helm.sh/chart: {{ include "continuum.chart" .ctx }}
{{ include "continuum.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: continuum
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels that select a component's pods; stable across upgrades. Functions add their name. */}}
{{- define "continuum.selectorLabels" -}}
app.kubernetes.io/name: {{ include "continuum.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .function }}
continuum.io/function: {{ . }}
{{- end }}
{{- end -}}

{{- define "continuum.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "continuum.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag or repository@digest. Call with (dict "image" .Values.runtime.image "default" tag). */}}
{{- define "continuum.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString (default .default .image.tag)) -}}
{{- end -}}
{{- end -}}

{{/* Name of a function's Deployment and Service: <release>-<name>, as module.yaml refers to it. */}}
{{- define "continuum.functionFullname" -}}
{{- printf "%s-%s" .ctx.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "continuum.kafka.bundledName" -}}
{{- printf "%s-kafka" (include "continuum.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "continuum.redis.bundledName" -}}
{{- printf "%s-redis" (include "continuum.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Comma-separated Kafka bootstrap servers: the bundled broker, or kafka.brokers. */}}
{{- define "continuum.kafka.brokers" -}}
{{- if .Values.kafka.bundled.enabled -}}
{{- printf "%s:9092" (include "continuum.kafka.bundledName" .) -}}
{{- else -}}
{{- join "," .Values.kafka.brokers -}}
{{- end -}}
{{- end -}}

{{- define "continuum.redis.url" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- printf "redis://%s:6379/0" (include "continuum.redis.bundledName" .) -}}
{{- else -}}
{{- .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{/*
Where each credential comes from: (dict "name" secretName "key" key), or an empty string when the
credential is not configured. Values given inline go to the chart's own Secret (<fullname>).
*/}}
{{- define "continuum.secret.kafkaPassword" -}}
{{- if .Values.kafka.sasl.existingSecret -}}
{{- toYaml (dict "name" .Values.kafka.sasl.existingSecret "key" .Values.kafka.sasl.existingSecretPasswordKey) -}}
{{- else if .Values.kafka.sasl.password -}}
{{- toYaml (dict "name" (include "continuum.fullname" .) "key" "kafka-sasl-password") -}}
{{- end -}}
{{- end -}}

{{- define "continuum.secret.redisPassword" -}}
{{- if .Values.redis.existingSecret -}}
{{- toYaml (dict "name" .Values.redis.existingSecret "key" .Values.redis.existingSecretPasswordKey) -}}
{{- else if .Values.redis.password -}}
{{- toYaml (dict "name" (include "continuum.fullname" .) "key" "redis-password") -}}
{{- end -}}
{{- end -}}

{{/* The admin token: existingSecret, else the chart's Secret (inline or generated) unless admin.insecure. */}}
{{- define "continuum.secret.adminToken" -}}
{{- if .Values.admin.existingSecret -}}
{{- toYaml (dict "name" .Values.admin.existingSecret "key" .Values.admin.existingSecretKey) -}}
{{- else if not .Values.admin.insecure -}}
{{- toYaml (dict "name" (include "continuum.fullname" .) "key" "admin-token") -}}
{{- end -}}
{{- end -}}

{{/*
The admin token the chart's Secret holds: admin.token, else the one an earlier install generated
(kept across upgrades), else a new random one.
*/}}
{{- define "continuum.adminToken.value" -}}
{{- if .Values.admin.token -}}
{{- .Values.admin.token -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "continuum.fullname" .) -}}
{{- $data := dig "data" (dict) $existing -}}
{{- if hasKey $data "admin-token" -}}
{{- index $data "admin-token" | b64dec -}}
{{- else -}}
{{- randAlphaNum 40 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "continuum.secret.playgroundToken" -}}
{{- if .Values.playground.existingSecret -}}
{{- toYaml (dict "name" .Values.playground.existingSecret "key" .Values.playground.existingSecretKey) -}}
{{- else if .Values.playground.token -}}
{{- toYaml (dict "name" (include "continuum.fullname" .) "key" "playground-token") -}}
{{- end -}}
{{- end -}}

{{- define "continuum.secret.signingKey" -}}
{{- if .Values.signing.existingSecret -}}
{{- toYaml (dict "name" .Values.signing.existingSecret "key" .Values.signing.existingSecretKey) -}}
{{- else if .Values.signing.privateKey -}}
{{- toYaml (dict "name" (include "continuum.fullname" .) "key" "signing-private-key.pem") -}}
{{- end -}}
{{- end -}}

{{/* True when redis.url carries credentials (redis://user:password@host): it then lives in the Secret. */}}
{{- define "continuum.redis.urlHasCredentials" -}}
{{- if and (not .Values.redis.bundled.enabled) (regexMatch "^[a-z]+://[^/]*@" .Values.redis.url) -}}
true
{{- end -}}
{{- end -}}

{{/* True when the chart must render its own Secret. */}}
{{- define "continuum.secret.needed" -}}
{{- if or (and .Values.kafka.sasl.password (not .Values.kafka.sasl.existingSecret)) (and .Values.redis.password (not .Values.redis.existingSecret)) (and (not .Values.admin.existingSecret) (not .Values.admin.insecure)) (and .Values.playground.token (not .Values.playground.existingSecret)) (and .Values.signing.privateKey (not .Values.signing.existingSecret)) (include "continuum.redis.urlHasCredentials" .) -}}
true
{{- end -}}
{{- end -}}

{{/* An env entry reading a Secret key. Call with (dict "name" envName "ref" (include "continuum.secret.X" .)). */}}
{{- define "continuum.secretEnv" -}}
{{- $ref := fromYaml .ref -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end -}}

{{/* A function entry with functionDefaults merged under it. Call with (dict "ctx" $ "fn" $entry); returns YAML. */}}
{{- define "continuum.function" -}}
{{- toYaml (mergeOverwrite (deepCopy .ctx.Values.functionDefaults) (deepCopy .fn)) -}}
{{- end -}}

{{/*
Checks across values that values.schema.json cannot express, each failing with what to change.
Included once from the runtime Deployment.
*/}}
{{- define "continuum.validate" -}}
{{- if and .Values.kafka.sasl.mechanism (not (include "continuum.secret.kafkaPassword" .)) -}}
{{- fail (printf "kafka.sasl.mechanism is %q but no password is configured: set kafka.sasl.password, or kafka.sasl.existingSecret (key kafka.sasl.existingSecretPasswordKey)" .Values.kafka.sasl.mechanism) -}}
{{- end -}}
{{- if and .Values.kafka.sasl.mechanism (not .Values.kafka.sasl.username) (not .Values.kafka.sasl.existingSecretUsernameKey) -}}
{{- fail "kafka.sasl.mechanism is set but no user name is configured: set kafka.sasl.username, or kafka.sasl.existingSecretUsernameKey with kafka.sasl.existingSecret" -}}
{{- end -}}
{{- if and .Values.kafka.sasl.existingSecretUsernameKey (not .Values.kafka.sasl.existingSecret) -}}
{{- fail "kafka.sasl.existingSecretUsernameKey is set without kafka.sasl.existingSecret: name the Secret that holds the user name" -}}
{{- end -}}
{{- if and (not .Values.kafka.bundled.enabled) (not .Values.kafka.brokers) -}}
{{- fail "kafka.brokers is empty: list your Kafka bootstrap servers (host:port), or set kafka.bundled.enabled=true for a try-out" -}}
{{- end -}}
{{- if and .Values.admin.insecure (or .Values.admin.token .Values.admin.existingSecret) -}}
{{- fail "admin.insecure is true but an admin token is configured (admin.token or admin.existingSecret): remove one of them" -}}
{{- end -}}
{{- if and .Values.signing.privateKey (not (contains "PRIVATE KEY-----" .Values.signing.privateKey)) -}}
{{- fail "signing.privateKey must be a PEM Ed25519 private key (-----BEGIN PRIVATE KEY-----), e.g. from: openssl genpkey -algorithm ed25519" -}}
{{- end -}}
{{- range $i, $k := .Values.signing.publicKeys -}}
{{- if not (contains "-----BEGIN PUBLIC KEY-----" $k) -}}
{{- fail (printf "signing.publicKeys[%d] must be a PEM public key (-----BEGIN PUBLIC KEY-----), e.g. from: openssl pkey -in private-key.pem -pubout" $i) -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.redis.bundled.enabled) (not .Values.redis.url) -}}
{{- fail "redis.url is empty: set it to redis://host:port/db of a durable Redis, or set redis.bundled.enabled=true for a try-out" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) -}}
{{- fail (printf "autoscaling.maxReplicas (%v) is below autoscaling.minReplicas (%v)" .Values.autoscaling.maxReplicas .Values.autoscaling.minReplicas) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.targetMemoryUtilizationPercentage) -}}
{{- fail "autoscaling.enabled needs a metric: set autoscaling.targetCPUUtilizationPercentage or autoscaling.targetMemoryUtilizationPercentage above 0" -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $i, $fn := .Values.functions -}}
{{- if hasKey $seen $fn.name -}}
{{- fail (printf "functions[%d].name %q is used twice: function names must be unique (each becomes the Service %s-%s)" $i $fn.name $.Release.Name $fn.name) -}}
{{- end -}}
{{- $_ := set $seen $fn.name true -}}
{{- $fnName := include "continuum.functionFullname" (dict "ctx" $ "name" $fn.name) -}}
{{- $full := include "continuum.fullname" $ -}}
{{- range $taken := list $full (printf "%s-kafka" $full) (printf "%s-redis" $full) (printf "%s-playground" $full) -}}
{{- if eq $fnName $taken -}}
{{- fail (printf "functions[%d].name %q gives the name %s, which the chart already uses for its own objects: rename the function" $i $fn.name $fnName) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
