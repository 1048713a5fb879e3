{{/* Refuses values that cannot work, each with a message that says what to set. Included by deployment.yaml. */}}
{{- define "rotator.validate" -}}
{{- $v := .Values -}}
{{- if not (has $v.mode (list "lightweight" "enterprise")) -}}
{{- fail (printf "mode must be \"lightweight\" (one pod on SQLite) or \"enterprise\" (MySQL/MariaDB + Redis), not %q" (toString $v.mode)) -}}
{{- end -}}
{{- if eq $v.mode "lightweight" -}}
{{- if gt (int $v.replicaCount) 1 -}}
{{- fail (printf "mode=lightweight keeps key state in one pod's memory and SQLite on one volume: replicaCount must be 0 or 1 (got %d); use mode=enterprise with MySQL/MariaDB and Redis to run more" (int $v.replicaCount)) -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- fail "mode=lightweight runs one pod: autoscaling.enabled needs mode=enterprise" -}}
{{- end -}}
{{- else -}}
{{- $s := $v.secrets -}}
{{- if and (not $s.existingSecret) (not (and $s.adminPassword $s.jwtSecret $s.encryptionKey $s.globalProxyKeys)) -}}
{{- fail "mode=enterprise shares its secrets between pods: set secrets.existingSecret, or all of secrets.adminPassword, secrets.jwtSecret, secrets.encryptionKey and secrets.globalProxyKeys" -}}
{{- end -}}
{{- $db := $v.database -}}
{{- if not (and $db.urlSecret.name $db.urlSecret.key) -}}
{{- if not $db.host -}}
{{- fail "mode=enterprise needs MySQL/MariaDB: set database.host (with database.port, user, name and a password), or database.urlSecret.name and .key" -}}
{{- end -}}
{{- if not (or (and $db.passwordSecret.name $db.passwordSecret.key) $db.password) -}}
{{- fail "mode=enterprise needs the database password: set database.passwordSecret.name and .key (an existing Secret), or database.password" -}}
{{- end -}}
{{- end -}}
{{- $sentinel := $v.redis.sentinel -}}
{{- if not (or (and $v.redis.urlSecret.name $v.redis.urlSecret.key) $v.redis.host $sentinel.endpoints) -}}
{{- fail "mode=enterprise needs Redis: set redis.host (with redis.port and, if Redis asks for one, a password), redis.urlSecret.name and .key, or redis.sentinel.endpoints and .masterName" -}}
{{- end -}}
{{- if $sentinel.endpoints -}}
{{- if and $v.redis.urlSecret.name $v.redis.urlSecret.key -}}
{{- fail "redis.urlSecret and redis.sentinel.endpoints are both set: use one (with Sentinel, the master's password goes in redis.password or redis.passwordSecret)" -}}
{{- end -}}
{{- if not $sentinel.masterName -}}
{{- fail "redis.sentinel.endpoints needs redis.sentinel.masterName: the name the Sentinels monitor the master under (e.g. mymaster)" -}}
{{- end -}}
{{- if $v.redis.tls.enabled -}}
{{- fail "redis.sentinel.endpoints with redis.tls.enabled=true is not supported yet (the node would check the certificate against the IP the Sentinels name): use one, REDIS_SENTINELS and REDIS_TLS/rediss cannot be combined" -}}
{{- end -}}
{{- else if $sentinel.masterName -}}
{{- fail "redis.sentinel.masterName is set but redis.sentinel.endpoints is empty: list the Sentinels as host:port" -}}
{{- end -}}
{{- $dbTLS := $db.tls -}}
{{- if and (eq $dbTLS.mode "verify_ca") (not (and $dbTLS.secret.name $dbTLS.secret.caKey)) -}}
{{- fail "database.tls.mode=verify_ca needs the CA that signed the database's certificate: set database.tls.secret.name and .caKey (or use verify_identity with a publicly trusted certificate)" -}}
{{- end -}}
{{- if and $dbTLS.secret.caKey (not (has $dbTLS.mode (list "verify_ca" "verify_identity"))) -}}
{{- fail (printf "database.tls.secret.caKey is only used by database.tls.mode=verify_ca or verify_identity (got %q)" $dbTLS.mode) -}}
{{- end -}}
{{- if and (eq $dbTLS.mode "disabled") (or $dbTLS.secret.certKey $dbTLS.secret.keyKey) -}}
{{- fail "database.tls.mode=disabled would ignore the client certificate in database.tls.secret" -}}
{{- end -}}
{{- $redisTLS := $v.redis.tls -}}
{{- if and (not $redisTLS.enabled) (or $redisTLS.secret.caKey $redisTLS.secret.certKey $redisTLS.secret.keyKey) -}}
{{- fail "redis.tls.secret is only used with redis.tls.enabled=true" -}}
{{- end -}}
{{- range $what, $secret := dict "database" $dbTLS.secret "redis" $redisTLS.secret -}}
{{- if or (and $secret.certKey (not $secret.keyKey)) (and $secret.keyKey (not $secret.certKey)) -}}
{{- fail (printf "%s.tls.secret.certKey and .keyKey go together: a client certificate needs its key" $what) -}}
{{- end -}}
{{- if and (or $secret.caKey $secret.certKey) (not $secret.name) -}}
{{- fail (printf "%s.tls.secret needs name: the existing Secret holding its caKey/certKey/keyKey" $what) -}}
{{- end -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- with $v.metricsTokenSecret -}}
{{- if or (and .name (not .key)) (and .key (not .name)) -}}
{{- fail "metricsTokenSecret needs both name (an existing Secret) and key (the key in it holding METRICS_TOKEN, at least 16 characters)" -}}
{{- end -}}
{{- end -}}
{{- range $name, $_ := $v.env -}}
{{- if has $name (list "BIND_HOST" "BACKEND_PORT" "DATABASE_PATH" "DB_TYPE" "DB_HOST" "DB_PORT" "DB_USER" "DB_PASSWORD" "DB_NAME" "DATABASE_URL" "CACHE_TYPE" "REDIS_HOST" "REDIS_PORT" "REDIS_PASSWORD" "REDIS_URL" "REDIS_SENTINELS" "REDIS_SENTINEL_MASTER" "REDIS_SENTINEL_PASSWORD" "REDIS_USERNAME" "REDIS_TLS" "REDIS_CA_FILE" "REDIS_CERT_FILE" "REDIS_KEY_FILE" "DB_TLS" "DB_CA_FILE" "DB_CERT_FILE" "DB_KEY_FILE" "ADMIN_PASSWORD" "JWT_SECRET" "ENCRYPTION_KEY" "GLOBAL_PROXY_KEYS" "SHUTDOWN_GRACE_SECONDS" "METRICS_TOKEN") -}}
{{- fail (printf "env.%s is set by the chart: use mode, database.*, redis.*, secrets.*, metricsTokenSecret or shutdownGraceSeconds instead" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
