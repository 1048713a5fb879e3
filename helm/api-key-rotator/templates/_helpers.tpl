{{/* Names, labels and the values the templates share. */}}

{{- define "rotator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rotator.fullname" -}}
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

{{- define "rotator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rotator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rotator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rotator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "rotator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "rotator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rotator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the four node secrets: the user's, or the chart's. */}}
{{- define "rotator.secretName" -}}
{{- default (include "rotator.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether the chart makes its own Secret: for node secrets given as values, or database/Redis passwords. */}}
{{- define "rotator.createsSecret" -}}
{{- $s := .Values.secrets -}}
{{- $nodeSecrets := and (not $s.existingSecret) (or $s.adminPassword $s.jwtSecret $s.encryptionKey $s.globalProxyKeys) -}}
{{- $enterprise := eq .Values.mode "enterprise" -}}
{{- if or $nodeSecrets (and $enterprise (or .Values.database.password .Values.redis.password .Values.redis.sentinel.password)) -}}true{{- end -}}
{{- end -}}

{{- define "rotator.claimName" -}}
{{- default (include "rotator.fullname" .) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* preStop delay + shutdown grace + 5 s, or more when the values ask for more. */}}
{{- define "rotator.terminationGrace" -}}
{{- $needed := add .Values.preStopDelaySeconds .Values.shutdownGraceSeconds 5 -}}
{{- max (int $needed) (int .Values.terminationGracePeriodSeconds) -}}
{{- end -}}

{{/* The container's variables that come from Secrets. Lightweight mode generates (and keeps in its volume) each
node secret that is not given, so those references are optional there. */}}
{{- define "rotator.secretEnv" -}}
{{- $v := .Values -}}
{{- $enterprise := eq $v.mode "enterprise" -}}
{{- $secretName := include "rotator.secretName" . -}}
{{- $chartSecret := include "rotator.fullname" . -}}
{{- range $variable, $key := dict "ADMIN_PASSWORD" "adminPassword" "JWT_SECRET" "jwtSecret" "ENCRYPTION_KEY" "encryptionKey" "GLOBAL_PROXY_KEYS" "globalProxyKeys" }}
{{- if or $v.secrets.existingSecret (index $v.secrets $key) }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
      {{- if not $enterprise }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- if $enterprise }}
{{- with $v.database }}
{{- if and .urlSecret.name .urlSecret.key }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .urlSecret.name }}
      key: {{ .urlSecret.key }}
{{- else }}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- if and .passwordSecret.name .passwordSecret.key }}
      name: {{ .passwordSecret.name }}
      key: {{ .passwordSecret.key }}
      {{- else }}
      name: {{ $chartSecret }}
      key: databasePassword
      {{- end }}
{{- end }}
{{- end }}
{{- with $v.redis }}
{{- if and .urlSecret.name .urlSecret.key }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .urlSecret.name }}
      key: {{ .urlSecret.key }}
{{- else if or (and .passwordSecret.name .passwordSecret.key) .password }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- if and .passwordSecret.name .passwordSecret.key }}
      name: {{ .passwordSecret.name }}
      key: {{ .passwordSecret.key }}
      {{- else }}
      name: {{ $chartSecret }}
      key: redisPassword
      {{- end }}
{{- end }}
{{- with .sentinel }}
{{- if and .endpoints (or (and .passwordSecret.name .passwordSecret.key) .password) }}
- name: REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- if and .passwordSecret.name .passwordSecret.key }}
      name: {{ .passwordSecret.name }}
      key: {{ .passwordSecret.key }}
      {{- else }}
      name: {{ $chartSecret }}
      key: redisSentinelPassword
      {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with $v.metricsTokenSecret }}
{{- if and .name .key }}
- name: METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The TLS Secrets to mount in enterprise mode, as YAML {database: secret, redis: secret}; Redis' only with TLS on. */}}
{{- define "rotator.tlsSecrets" -}}
{{- $v := .Values -}}
{{- if eq $v.mode "enterprise" -}}
{{- with $v.database.tls.secret -}}
{{- if and .name (or .caKey .certKey) }}
database: {{ toJson . }}
{{- end -}}
{{- end -}}
{{- if $v.redis.tls.enabled -}}
{{- with $v.redis.tls.secret -}}
{{- if and .name (or .caKey .certKey) }}
redis: {{ toJson . }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
