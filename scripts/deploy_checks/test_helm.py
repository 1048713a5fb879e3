"""helm/api-key-rotator through Helm's own engine (helm-python-sdk binds Helm v4's Go SDK; no helm binary, no
cluster): strict lint, rendering with default, enterprise and every-optional-template values, each manifest validated
by kubernetes-validate in strict mode, the settings that matter asserted, and bad values refused with a message."""
import copy
import re
import shutil

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from deploy_support import CHART, SETTINGS_VARIABLES

# The chart's floor (Chart.yaml kubeVersion) and the two newest releases kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.27.0", "1.36.0", "1.37.0"]
RELEASE, NAMESPACE = "rot", "keys"
FULLNAME = f"{RELEASE}-api-key-rotator"

ENTERPRISE = {
    "mode": "enterprise",
    "replicaCount": 3,
    "secrets": {"existingSecret": "rotator-secrets"},
    "database": {"host": "mariadb.db.svc", "passwordSecret": {"name": "mariadb", "key": "mariadb-password"}},
    "redis": {"host": "redis-master.db.svc"},
}
# Every optional template on, and every pod-placement value given.
EVERYTHING = {
    **ENTERPRISE,
    "secrets": {"adminPassword": "a-long-admin-passphrase", "jwtSecret": "0123456789abcdef0123456789abcdef",
                "encryptionKey": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "globalProxyKeys": "rk-team-a-4f9c2e71d0b3,rk-team-b-8a6d5c3e1f07"},
    "database": {"host": "mariadb.db.svc", "password": "pa/ss@wo#rd",
                 "tls": {"mode": "verify_identity", "secret": {"name": "db-tls", "caKey": "ca.crt", "certKey": "tls.crt", "keyKey": "tls.key"}}},
    "redis": {"host": "redis.db.svc", "password": "redis-pass", "username": "rotator",
              "tls": {"enabled": True, "secret": {"name": "redis-tls", "caKey": "ca.crt"}}},
    "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12, "targetMemoryUtilizationPercentage": 80},
    "ingress": {"enabled": True, "className": "nginx", "hosts": [{"host": "rotator.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                "tls": [{"secretName": "rotator-tls", "hosts": ["rotator.example.com"]}]},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "metricsTokenSecret": {"name": "rotator-metrics", "key": "token"},
    "imagePullSecrets": [{"name": "registry-credentials"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "proxy", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["proxy"]}]}}]}},
    "podAnnotations": {"example.com/team": "platform"},
    "podLabels": {"team": "platform"},
    "priorityClassName": "high",
    "env": {"LOG_LEVEL": "notice", "PROXY_TIMEOUT": "60", "PROXY_PUBLIC_BASE_URL": "https://rotator.example.com"},
}
# Redis through Sentinel, both passwords given as values.
SENTINEL = {**ENTERPRISE, "redis": {"password": "master-pass", "sentinel": {
    "endpoints": ["redis-node-0.redis-headless.db.svc:26379", "redis-node-1.redis-headless.db.svc:26379"],
    "masterName": "mymaster", "password": "sentinel-pass"}}}
CASES = {"default": None, "enterprise": ENTERPRISE, "everything": EVERYTHING, "sentinel": SENTINEL}


def render(values=None, chart=CHART):
    with helm.Chart.load(str(chart)) as loaded:
        manifests = loaded.render(values, name=RELEASE, namespace=NAMESPACE)
    documents = []
    for path, text in manifests.items():
        if path.endswith(".txt"):
            continue
        documents += [document for document in yaml.safe_load_all(text) if document]
    return documents, manifests


def kinds(documents):
    by_kind = {}
    for document in documents:
        assert document["kind"] not in by_kind, f"two {document['kind']}s"
        by_kind[document["kind"]] = document
    return by_kind


def pod_of(documents):
    return kinds(documents)["Deployment"]["spec"]["template"]


def container_of(documents):
    [container] = pod_of(documents)["spec"]["containers"]
    return container


def render_error(values, chart=CHART):
    with pytest.raises(helm.HelmError) as failure:
        render(values, chart)
    return str(failure.value)


def merged(base, **changes):
    values = copy.deepcopy(base or {})
    for dotted, value in changes.items():
        node = values
        *parents, leaf = dotted.split("__")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return values


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kube_version", ["v1.36.0", "v1.37.0"])
def test_strict_lint(case, kube_version):
    report = helm.lint(str(CHART), CASES[case], strict=True, kube_version=kube_version)
    problems = [message for message in report["messages"] if message["severity"] >= 2] + report["errors"]
    assert report["total_charts_linted"] == 1 and not problems, problems


def test_lint_reports_a_broken_template(tmp_path):
    broken = tmp_path / "api-key-rotator"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Values.nope.deeper }}\n")
    report = helm.lint(str(broken), strict=True)
    assert [message for message in report["messages"] if message["severity"] == 3] or report["errors"]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly(case, kube_version):
    documents, _ = render(CASES[case])
    for document in documents:
        if document["apiVersion"].startswith("monitoring.coreos.com/"):
            # A Prometheus Operator CRD: no schema in kubernetes-validate (checked field by field below).
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(document, kube_version, strict=True)
            continue
        try:
            validated = kubernetes_validate.validate(document, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{document['kind']} {document['metadata']['name']} against {kube_version}: "
                        f"{'.'.join(map(str, error.path))}: {error.message}")
        assert validated == kube_version.rsplit(".", 1)[0]


def test_strict_validation_catches_a_misplaced_field():
    documents, _ = render()
    deployment = copy.deepcopy(kinds(documents)["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.37.0", strict=True)


def test_what_each_mode_renders():
    assert set(kinds(render()[0])) == {"ConfigMap", "Deployment", "Service", "ServiceAccount", "PersistentVolumeClaim"}
    assert set(kinds(render(ENTERPRISE)[0])) == {"ConfigMap", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"}
    assert set(kinds(render(EVERYTHING)[0])) == {
        "ConfigMap", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "Secret",
        "HorizontalPodAutoscaler", "Ingress", "ServiceMonitor"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_probes(case):
    container = container_of(render(CASES[case])[0])
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    startup = container["startupProbe"]
    assert startup["httpGet"] == {"path": "/healthz", "port": "http"}
    # Slow first migrations: minutes before liveness may restart the pod.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


@pytest.mark.parametrize("case", sorted(CASES))
def test_security_context(case):
    documents, _ = render(CASES[case])
    pod = pod_of(documents)["spec"]
    container = container_of(documents)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    # A read-only root: the data folder and /tmp are volumes; TLS files (Secrets) are mounted read-only.
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert {"/app/data", "/tmp"} <= set(mounts)
    for path in set(mounts) - {"/app/data", "/tmp"}:
        assert path.startswith("/etc/rotator/tls/") and mounts[path]["readOnly"] is True, mounts[path]
    # No Kubernetes API token in the pod.
    assert pod["automountServiceAccountToken"] is False
    assert kinds(documents)["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == kinds(documents)["ServiceAccount"]["metadata"]["name"]


def test_rollout_in_each_mode():
    lightweight = kinds(render()[0])["Deployment"]["spec"]
    assert lightweight["strategy"] == {"type": "Recreate"}, "one pod owns the SQLite volume"
    assert lightweight["replicas"] == 1
    enterprise_documents = render(ENTERPRISE)[0]
    enterprise = kinds(enterprise_documents)["Deployment"]["spec"]
    assert enterprise["strategy"]["type"] == "RollingUpdate"
    assert enterprise["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert enterprise["strategy"]["rollingUpdate"]["maxSurge"] >= 1
    assert enterprise["replicas"] == 3
    spread = enterprise["template"]["spec"]["topologySpreadConstraints"]
    assert {constraint["topologyKey"] for constraint in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"].items() <= enterprise["template"]["metadata"]["labels"].items()
    assert "topologySpreadConstraints" not in lightweight["template"]["spec"]


def test_pod_disruption_budget():
    enterprise = kinds(render(ENTERPRISE)[0])
    budget = enterprise["PodDisruptionBudget"]["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= enterprise["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    # One lightweight pod: a budget would block every node drain.
    assert "PodDisruptionBudget" not in kinds(render()[0])


def test_horizontal_pod_autoscaler():
    documents = kinds(render(EVERYTHING)[0])
    autoscaler = documents["HorizontalPodAutoscaler"]["spec"]
    assert autoscaler["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": documents["Deployment"]["metadata"]["name"]}
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (3, 12)
    assert {metric["resource"]["name"]: metric["resource"]["target"]["averageUtilization"] for metric in autoscaler["metrics"]} == {"cpu": 70, "memory": 80}
    # The autoscaler owns the replica count: an upgrade must not reset it.
    assert "replicas" not in documents["Deployment"]["spec"]


@pytest.mark.parametrize("grace, pre_stop, asked, expected", [(30, 5, 0, 40), (120, 10, 60, 135), (30, 5, 300, 300)])
def test_termination_grace_covers_the_drain(grace, pre_stop, asked, expected):
    values = merged(ENTERPRISE, shutdownGraceSeconds=grace, preStopDelaySeconds=pre_stop, terminationGracePeriodSeconds=asked)
    documents = render(values)[0]
    pod = pod_of(documents)["spec"]
    assert pod["terminationGracePeriodSeconds"] == expected
    assert container_of(documents)["lifecycle"]["preStop"] == {"exec": {"command": ["/bin/sleep", str(pre_stop)]}}
    assert kinds(documents)["ConfigMap"]["data"]["SHUTDOWN_GRACE_SECONDS"] == str(grace)


def test_a_changed_secret_or_setting_rolls_the_pods():
    def checksums(values):
        return {key: value for key, value in pod_of(render(values)[0])["metadata"]["annotations"].items() if key.startswith("checksum/")}
    base = checksums(EVERYTHING)
    assert set(base) == {"checksum/config", "checksum/secret"}
    changed_secret = checksums(merged(EVERYTHING, secrets__jwtSecret="another-secret-of-32-characters!"))
    assert changed_secret["checksum/secret"] != base["checksum/secret"] and changed_secret["checksum/config"] == base["checksum/config"]
    changed_setting = checksums(merged(EVERYTHING, env={"LOG_LEVEL": "debug"}))
    assert changed_setting["checksum/config"] != base["checksum/config"]


def environment(documents):
    """The container's variables: ConfigMap data plus direct env entries."""
    by_kind = kinds(documents)
    variables = dict(by_kind["ConfigMap"]["data"])
    [source] = container_of(documents)["envFrom"]
    assert source["configMapRef"]["name"] == by_kind["ConfigMap"]["metadata"]["name"]
    for entry in container_of(documents).get("env", []):
        variables[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return variables


@pytest.mark.parametrize("case", sorted(CASES))
def test_only_variables_the_rotator_reads(case):
    unknown = set(environment(render(CASES[case])[0])) - SETTINGS_VARIABLES
    assert not unknown, f"the chart sets {sorted(unknown)}, which Settings.swift does not read"


def test_lightweight_settings_and_data():
    documents = render()[0]
    variables = environment(documents)
    assert variables["DB_TYPE"] == "sqlite" and variables["CACHE_TYPE"] == "memory"
    assert variables["DATABASE_PATH"] == "/app/data/rotator.db"
    # No secret given: the node generates them into its volume.
    assert not {"ADMIN_PASSWORD", "JWT_SECRET", "ENCRYPTION_KEY", "GLOBAL_PROXY_KEYS"} & set(variables)
    by_kind = kinds(documents)
    claim = by_kind["PersistentVolumeClaim"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", "uninstall keeps the data"
    [data] = [volume for volume in pod_of(documents)["spec"]["volumes"] if volume["name"] == "data"]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}


def test_an_existing_claim_is_used_and_none_is_made():
    documents = render({"persistence": {"existingClaim": "rotator-data-from-before"}})[0]
    assert "PersistentVolumeClaim" not in kinds(documents)
    [data] = [volume for volume in pod_of(documents)["spec"]["volumes"] if volume["name"] == "data"]
    assert data["persistentVolumeClaim"]["claimName"] == "rotator-data-from-before"


def test_enterprise_settings_come_in_parts_with_the_password_from_a_secret():
    variables = environment(render(ENTERPRISE)[0])
    assert variables["DB_TYPE"] == "mysql" and variables["CACHE_TYPE"] == "redis"
    assert (variables["DB_HOST"], variables["DB_PORT"], variables["DB_USER"], variables["DB_NAME"]) == ("mariadb.db.svc", "3306", "rotator", "rotator")
    assert (variables["REDIS_HOST"], variables["REDIS_PORT"]) == ("redis-master.db.svc", "6379")
    assert variables["DB_PASSWORD"] == {"secretKeyRef": {"name": "mariadb", "key": "mariadb-password"}}
    for name, key in [("ADMIN_PASSWORD", "adminPassword"), ("JWT_SECRET", "jwtSecret"),
                      ("ENCRYPTION_KEY", "encryptionKey"), ("GLOBAL_PROXY_KEYS", "globalProxyKeys")]:
        assert variables[name] == {"secretKeyRef": {"name": "rotator-secrets", "key": key}}, "required in enterprise mode"
    assert "DATABASE_PATH" not in variables and "REDIS_PASSWORD" not in variables


def test_enterprise_urls_stay_possible():
    values = merged(ENTERPRISE, database={"urlSecret": {"name": "db-url", "key": "url"}}, redis={"urlSecret": {"name": "redis-url", "key": "url"}})
    variables = environment(render(values)[0])
    assert variables["DATABASE_URL"] == {"secretKeyRef": {"name": "db-url", "key": "url"}}
    assert variables["REDIS_URL"] == {"secretKeyRef": {"name": "redis-url", "key": "url"}}
    assert not {"DB_HOST", "DB_PASSWORD", "REDIS_HOST"} & set(variables)


def test_sentinel_endpoints_replace_host_and_port():
    documents = render(SENTINEL)[0]
    variables = environment(documents)
    assert variables["REDIS_SENTINELS"] == "redis-node-0.redis-headless.db.svc:26379,redis-node-1.redis-headless.db.svc:26379"
    assert variables["REDIS_SENTINEL_MASTER"] == "mymaster"
    assert not {"REDIS_HOST", "REDIS_PORT", "REDIS_URL"} & set(variables)
    data = kinds(documents)["Secret"]["stringData"]
    assert variables["REDIS_PASSWORD"]["secretKeyRef"]["key"] == "redisPassword" and data["redisPassword"] == "master-pass"
    assert variables["REDIS_SENTINEL_PASSWORD"]["secretKeyRef"]["key"] == "redisSentinelPassword"
    assert data["redisSentinelPassword"] == "sentinel-pass"
    from_secret = merged(SENTINEL, redis__sentinel__password="", redis__sentinel__passwordSecret={"name": "redis", "key": "sentinel"})
    assert environment(render(from_secret)[0])["REDIS_SENTINEL_PASSWORD"] == {"secretKeyRef": {"name": "redis", "key": "sentinel"}}
    assert set(environment(documents)) <= SETTINGS_VARIABLES


def test_tls_files_come_from_secrets_mounted_read_only():
    documents = render(EVERYTHING)[0]
    variables = environment(documents)
    assert variables["DB_TLS"] == "verify_identity"
    assert (variables["DB_CA_FILE"], variables["DB_CERT_FILE"], variables["DB_KEY_FILE"]) == (
        "/etc/rotator/tls/database/ca.pem", "/etc/rotator/tls/database/client.pem", "/etc/rotator/tls/database/client.key")
    assert variables["REDIS_TLS"] == "true" and variables["REDIS_USERNAME"] == "rotator"
    assert variables["REDIS_CA_FILE"] == "/etc/rotator/tls/redis/ca.pem"
    assert not {"REDIS_CERT_FILE", "REDIS_KEY_FILE"} & set(variables), "no client certificate was given for Redis"
    volumes = {volume["name"]: volume for volume in pod_of(documents)["spec"]["volumes"]}
    assert volumes["database-tls"]["secret"] == {"secretName": "db-tls", "defaultMode": 0o440, "items": [
        {"key": "ca.crt", "path": "ca.pem"}, {"key": "tls.crt", "path": "client.pem"}, {"key": "tls.key", "path": "client.key"}]}
    assert volumes["redis-tls"]["secret"] == {"secretName": "redis-tls", "defaultMode": 0o440, "items": [{"key": "ca.crt", "path": "ca.pem"}]}
    mounts = {mount["name"]: mount for mount in container_of(documents)["volumeMounts"]}
    assert mounts["database-tls"] == {"name": "database-tls", "mountPath": "/etc/rotator/tls/database", "readOnly": True}
    assert mounts["redis-tls"] == {"name": "redis-tls", "mountPath": "/etc/rotator/tls/redis", "readOnly": True}
    # Without TLS values: TLS when the database offers it, nothing mounted, plain Redis.
    plain = environment(render(ENTERPRISE)[0])
    assert plain["DB_TLS"] == "preferred" and not {"DB_CA_FILE", "REDIS_TLS", "REDIS_CA_FILE", "REDIS_USERNAME"} & set(plain)
    assert {volume["name"] for volume in pod_of(render(ENTERPRISE)[0])["spec"]["volumes"]} == {"data", "tmp"}


def test_secrets_given_as_values_go_into_the_charts_secret():
    documents = render(EVERYTHING)[0]
    secret = kinds(documents)["Secret"]
    data = secret["stringData"]
    assert data["databasePassword"] == "pa/ss@wo#rd", "kept verbatim: no URL-encoding needed"
    variables = environment(documents)
    for name, reference in variables.items():
        # METRICS_TOKEN always comes from an existing Secret (metricsTokenSecret), shared with the ServiceMonitor.
        if isinstance(reference, dict) and name != "METRICS_TOKEN":
            key = reference["secretKeyRef"]
            assert key["name"] == secret["metadata"]["name"] and key["key"] in data, f"{name} points at a missing key"
    assert variables["REDIS_PASSWORD"]["secretKeyRef"]["key"] == "redisPassword"


def test_image_tag_defaults_to_the_app_version():
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert container_of(render()[0])["image"] == f"api-key-rotator:{app_version}"
    assert container_of(render({"image": {"repository": "registry.example.com/rotator", "tag": "1.2.3"}})[0])["image"] == "registry.example.com/rotator:1.2.3"


def test_pod_placement_values_reach_the_pod():
    template = pod_of(render(EVERYTHING)[0])
    spec = template["spec"]
    assert spec["imagePullSecrets"] == EVERYTHING["imagePullSecrets"]
    assert spec["nodeSelector"] == EVERYTHING["nodeSelector"]
    assert spec["tolerations"] == EVERYTHING["tolerations"]
    assert spec["affinity"] == EVERYTHING["affinity"]
    assert spec["priorityClassName"] == "high"
    assert template["metadata"]["annotations"]["example.com/team"] == "platform"
    assert template["metadata"]["labels"]["team"] == "platform"


def test_ingress_and_service_monitor():
    documents = kinds(render(EVERYTHING)[0])
    service = documents["Service"]
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    [rule] = documents["Ingress"]["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"number": port["port"]}}
    assert documents["Ingress"]["spec"]["ingressClassName"] == "nginx"
    monitor = documents["ServiceMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    # The scraper sends the token the node asks for, both from one Secret key.
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": "rotator-metrics", "key": "token"}}
    assert environment(render(EVERYTHING)[0])["METRICS_TOKEN"] == {"secretKeyRef": {"name": "rotator-metrics", "key": "token"}}


def test_metrics_stay_open_without_a_token_secret():
    values = merged(ENTERPRISE, serviceMonitor={"enabled": True})
    [endpoint] = kinds(render(values)[0])["ServiceMonitor"]["spec"]["endpoints"]
    assert "authorization" not in endpoint
    assert "METRICS_TOKEN" not in environment(render(values)[0])


def test_notes_say_where_the_generated_secrets_are():
    _, manifests = render()
    [notes] = [text for path, text in manifests.items() if path.endswith("NOTES.txt")]
    assert "kubectl --namespace keys logs deployment/rot-api-key-rotator" in notes
    assert "kept by `helm uninstall`" in notes


# --- values that cannot work --------------------------------------------------------------------------------

REFUSED = {
    "enterprise without a database": (merged(ENTERPRISE, database={}), "mode=enterprise needs MySQL/MariaDB: set database.host"),
    "enterprise without the database password": (
        merged(ENTERPRISE, database={"host": "db"}), "mode=enterprise needs the database password"),
    "enterprise without Redis": (merged(ENTERPRISE, redis={}), "mode=enterprise needs Redis: set redis.host"),
    "enterprise without its secrets": (merged(ENTERPRISE, secrets={"adminPassword": "only-this-one"}),
                                       "mode=enterprise shares its secrets between pods: set secrets.existingSecret"),
    "several replicas in lightweight mode": ({"replicaCount": 3}, "replicaCount must be 0 or 1 (got 3)"),
    "autoscaling in lightweight mode": ({"autoscaling": {"enabled": True}}, "autoscaling.enabled needs mode=enterprise"),
    "a setting the chart owns in env": (merged(ENTERPRISE, env={"DB_HOST": "elsewhere"}), "env.DB_HOST is set by the chart"),
    "the metrics token in env": (merged(ENTERPRISE, env={"METRICS_TOKEN": "0123456789abcdef"}), "env.METRICS_TOKEN is set by the chart"),
    "a metrics token secret without its key": (merged(ENTERPRISE, metricsTokenSecret={"name": "rotator-metrics"}),
                                                "metricsTokenSecret needs both name"),
    "autoscaling bounds upside down": (merged(ENTERPRISE, autoscaling={"enabled": True, "minReplicas": 5, "maxReplicas": 2}),
                                       "autoscaling.minReplicas (5) must not exceed autoscaling.maxReplicas (2)"),
    "sentinels without the master's name": (merged(ENTERPRISE, redis={"sentinel": {"endpoints": ["s:26379"]}}),
                                           "redis.sentinel.endpoints needs redis.sentinel.masterName"),
    "sentinels and a Redis URL": (merged(ENTERPRISE, redis={"urlSecret": {"name": "u", "key": "k"},
                                                            "sentinel": {"endpoints": ["s:26379"], "masterName": "m"}}),
                                  "redis.urlSecret and redis.sentinel.endpoints are both set"),
    "a master name without sentinels": (merged(ENTERPRISE, redis__sentinel={"masterName": "m"}), "redis.sentinel.endpoints is empty"),
    "the sentinels in env": (merged(ENTERPRISE, env={"REDIS_SENTINELS": "s:26379"}), "env.REDIS_SENTINELS is set by the chart"),
    "sentinels with Redis TLS": (merged(ENTERPRISE, redis={**ENTERPRISE["redis"], "tls": {"enabled": True},
                                                         "sentinel": {"endpoints": ["s:26379"], "masterName": "m"}}),
                                 "redis.sentinel.endpoints with redis.tls.enabled=true is not supported yet"),
    "verify_ca without a CA": (merged(ENTERPRISE, database={**ENTERPRISE["database"], "tls": {"mode": "verify_ca"}}),
                               "database.tls.mode=verify_ca needs the CA"),
    "a CA the database mode ignores": (
        merged(ENTERPRISE, database={**ENTERPRISE["database"], "tls": {"mode": "required", "secret": {"name": "db-tls", "caKey": "ca.crt"}}}),
        "database.tls.secret.caKey is only used by database.tls.mode=verify_ca or verify_identity"),
    "a client certificate without its key": (
        merged(ENTERPRISE, redis={**ENTERPRISE["redis"], "tls": {"enabled": True, "secret": {"name": "redis-tls", "certKey": "tls.crt"}}}),
        "redis.tls.secret.certKey and .keyKey go together"),
    "Redis TLS files with TLS off": (
        merged(ENTERPRISE, redis={**ENTERPRISE["redis"], "tls": {"secret": {"name": "redis-tls", "caKey": "ca.crt"}}}),
        "redis.tls.secret is only used with redis.tls.enabled=true"),
    "a TLS file without its Secret": (
        merged(ENTERPRISE, redis={**ENTERPRISE["redis"], "tls": {"enabled": True, "secret": {"caKey": "ca.crt"}}}),
        "redis.tls.secret needs name"),
    "a TLS setting in env": (merged(ENTERPRISE, env={"DB_TLS": "disabled"}), "env.DB_TLS is set by the chart"),
    # values.schema.json
    "a sentinel without its port": (merged(ENTERPRISE, redis__sentinel={"endpoints": ["sentinel-0"], "masterName": "m"}),
                                    "/redis/sentinel/endpoints/0"),
    "a misspelt database TLS mode": (merged(ENTERPRISE, database={**ENTERPRISE["database"], "tls": {"mode": "verify-full"}}),
                                     "/database/tls/mode"),
    "Redis TLS as text": (merged(ENTERPRISE, redis={**ENTERPRISE["redis"], "tls": {"enabled": "yes"}}), "/redis/tls/enabled"),
    "a misspelt mode": ({"mode": "enterprize"}, "/mode"),
    "a count as text": ({"replicaCount": "three"}, "/replicaCount"),
    "an unknown value": ({"replicas": 3}, "replicas"),
    "a port out of range": (merged(ENTERPRISE, database={"host": "db", "password": "p", "port": 70000}), "/database/port"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_values_fail_to_render_with_a_clear_message(case):
    values, message = REFUSED[case]
    assert message in render_error(values)


def test_the_schema_names_the_allowed_modes():
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmValuesError) as failure:
            chart.validate_schema(chart.merge_values({"mode": "enterprize"}))
    assert re.search(r"lightweight.*enterprise", str(failure.value)), str(failure.value)


def test_templates_refuse_a_misspelt_mode_even_without_the_schema(tmp_path):
    # `helm install --skip-schema-validation` still gets a clear message.
    unchecked = tmp_path / "api-key-rotator"
    shutil.copytree(CHART, unchecked)
    (unchecked / "values.schema.json").unlink()
    assert 'mode must be "lightweight" (one pod on SQLite) or "enterprise"' in render_error({"mode": "enterprize"}, unchecked)
