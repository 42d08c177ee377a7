"""deploy/ checked without Docker or a cluster: alert rules through promtool, metric names
against gateway.metrics, compose and Kubernetes manifests against the CLI and settings,
and docs/configuration.md's table against the settings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from prometheus_client import Counter, Gauge, Histogram

from gateway import metrics
from gateway.cli import app as cli_app
from gateway.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "gateway.json"
SETTINGS = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
METRIC_NAME = re.compile(r"\bgateway_[a-z0-9_]+")
GATEWAY_VARIABLE = re.compile(r"\bGATEWAY_[A-Z0-9_]+")


def exposed_names() -> set[str]:
    """Every sample name gateway.metrics can expose."""
    names: set[str] = set()
    for metric in vars(metrics).values():
        if isinstance(metric, Counter):
            names |= {f"{metric._name}_total", f"{metric._name}_created"}
        elif isinstance(metric, Histogram):
            names |= {f"{metric._name}_{s}" for s in ("bucket", "sum", "count", "created")}
        elif isinstance(metric, Gauge):
            names.add(metric._name)
    return names


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool not found (make test installs Debian's prometheus package as root)")
        pytest.skip("promtool is not installed: `make promtool` (root) installs it")
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_alerts_cover_what_operators_need_and_name_real_metrics() -> None:
    rules = [rule for group in load_all(ALERTS)[0]["groups"] for rule in group["rules"]]
    text = " ".join(rule["expr"] for rule in rules)
    assert set(METRIC_NAME.findall(text)) <= exposed_names()
    for needed in ("gateway_http_requests_total", "gateway_http_request_duration_seconds_bucket",
                   "gateway_queue_depth", "gateway_outbox_oldest_age_seconds",
                   "gateway_dead_letters", 'up{job="gateway-worker"}'):  # fmt: skip
        assert needed in text, needed
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "warn")
        assert rule["annotations"]["summary"]


def test_the_dashboard_loads_and_covers_the_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set(METRIC_NAME.findall(" ".join(exprs)))
    assert used <= exposed_names(), used - exposed_names()
    for family in ("gateway_http_requests_total", "gateway_http_request_duration_seconds_bucket",
                   "gateway_documents_total", "gateway_validation_problems_total",
                   "gateway_pricing_duration_seconds_bucket", "gateway_deductions_total",
                   "gateway_deductions_rials_total", "gateway_outbox_oldest_age_seconds",
                   "gateway_queue_depth", "gateway_dead_letters",
                   "gateway_webhook_delivery_failures_total", "gateway_batches_open"):  # fmt: skip
        assert family in used, family
    # Panels name the datasource through a variable, so the dashboard imports into any
    # Grafana whatever its Prometheus datasource's uid.
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    uids |= {t["datasource"]["uid"] for panel in dashboard["panels"] for t in panel["targets"]}
    assert uids == {"${" + variable["name"] + "}"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


BUSINESS = ("gateway_review_backlog", "gateway_review_oldest_age_seconds",
            "gateway_pricing_backlog", "gateway_pricing_oldest_age_seconds",
            "gateway_appeals_open", "gateway_appeals_oldest_age_seconds", "gateway_owed_rials",
            "gateway_audit_chain_ok", "gateway_audit_chain_verified_timestamp_seconds",
            "gateway_auditor_decisions_total", "gateway_appeals_total",
            "gateway_review_decision_seconds_bucket", "gateway_centre_documents_24h",
            "gateway_centre_rejected_24h", "gateway_centre_deducted_rials_24h")  # fmt: skip


def axis_units(panel: dict[str, Any]) -> dict[str, set[str]]:
    """The units of each axis of a panel: a query moved to the right axis by an override
    takes that override's unit, every other query the panel's."""
    moved: dict[str, dict[str, str]] = {}
    for override in panel["fieldConfig"]["overrides"]:
        assert override["matcher"]["id"] == "byFrameRefID"
        props = {p["id"]: p["value"] for p in override["properties"]}
        moved[override["matcher"]["options"]] = props
    axes: dict[str, set[str]] = {}
    for target in panel["targets"]:
        props = moved.get(target["refId"], {})
        axis = props.get("custom.axisPlacement", "left")
        axes.setdefault(axis, set()).add(
            props.get("unit", panel["fieldConfig"]["defaults"]["unit"])
        )
    return axes


def test_the_business_signals_have_a_row_a_centre_variable_and_alerts() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    (row,) = [p for p in dashboard["panels"] if p["type"] == "row"]
    below = [p for p in dashboard["panels"] if p["gridPos"]["y"] > row["gridPos"]["y"]]
    exprs = " ".join(t["expr"] for panel in below for t in panel["targets"])
    assert set(BUSINESS) <= set(METRIC_NAME.findall(exprs))
    (centre,) = [v for v in dashboard["templating"]["list"] if v["name"] == "centre"]
    assert "gateway_centre_documents_24h" in centre["definition"]
    per_centre = [t["expr"] for p in below for t in p["targets"] if "gateway_centre_" in t["expr"]]
    assert per_centre
    assert all('centre=~"$centre"' in expr for expr in per_centre)
    for panel in (p for p in dashboard["panels"] if p["type"] != "row"):
        assert all(len(units) == 1 for units in axis_units(panel).values()), panel["title"]
    rules = [rule for group in load_all(ALERTS)[0]["groups"] for rule in group["rules"]]
    alerted = " ".join(rule["expr"] for rule in rules)
    for needed in ("gateway_review_oldest_age_seconds", "gateway_pricing_oldest_age_seconds",
                   "gateway_audit_chain_ok", 'gateway_owed_rials{age="90+"}',
                   'gateway_logins_total{outcome="throttled"}'):  # fmt: skip
        assert needed in alerted, needed


def cli_commands() -> dict[str, Any]:
    group = typer.main.get_command(cli_app)
    return group.commands  # type: ignore[attr-defined,no-any-return]


def assert_runs_a_cli_command(args: list[str]) -> None:
    commands = cli_commands()
    assert args[0] in commands, args
    command = commands[args[0]]
    if hasattr(command, "commands"):
        assert args[1] in command.commands, args


def test_compose_is_consistent() -> None:
    compose = load_all(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    assert {"postgres", "rabbitmq", "redis", "migrate", "api", "worker", "prometheus",
            "alertmanager", "grafana"} <= set(services)  # fmt: skip
    api_processes = services["api"]["command"][services["api"]["command"].index("--workers") + 1]
    if int(api_processes) > 1:  # one budget per centre, not one per process
        assert services["api"]["environment"]["GATEWAY_RATE_LIMIT_REDIS_URL"].startswith("redis://")
    gateway = {name: s for name, s in services.items() if s.get("image") == "rasa-gateway:latest"}
    assert set(gateway) == {"migrate", "api", "worker"}
    for name, service in gateway.items():
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert_runs_a_cli_command(service["command"])
        assert set(service["environment"]) <= SETTINGS, name
        assert service["environment"]["GATEWAY_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert service["environment"]["GATEWAY_BROKER_URL"].startswith("amqp://")
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    scrape = load_all(DEPLOY / "prometheus/prometheus.yml")[0]
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in scrape["scrape_configs"]
    }
    assert targets["gateway-api"] == "api:8000"
    assert targets["gateway-worker"] == "worker:9101"
    assert scrape["rule_files"] == ["alerts.yml"]


def kustomization() -> dict[str, Any]:
    return load_all(DEPLOY / "kustomization.yaml")[0]


def manifests() -> list[dict[str, Any]]:
    """Every object kustomize applies, from the files it lists."""
    return [doc for name in kustomization()["resources"] for doc in load_all(DEPLOY / name)]


def manifests_by_kind() -> dict[str, dict[str, dict[str, Any]]]:
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in manifests():
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return by_kind


def is_gateway(workload: dict[str, Any]) -> bool:
    return bool(workload["metadata"]["labels"].get("app.kubernetes.io/name") == "rasa-gateway")


def test_kubernetes_manifests_are_consistent() -> None:
    by_kind = manifests_by_kind()
    config = by_kind["ConfigMap"]["gateway-config"]["data"]
    secret = by_kind["Secret"]["gateway-secrets"]["stringData"]
    assert set(config) | set(secret) <= SETTINGS
    assert {"GATEWAY_DATABASE_URL", "GATEWAY_BROKER_URL", "GATEWAY_SECRET_KEY"} <= set(secret)
    workloads = [*by_kind["Deployment"].values(), *by_kind["Job"].values()]
    for workload in filter(is_gateway, workloads):
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert container["image"] == "rasa-gateway"
            assert_runs_a_cli_command(container["args"])
            sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert sources == {"gateway-config", "gateway-secrets"}
            claims = {v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
                      if "persistentVolumeClaim" in v}  # fmt: skip
            assert claims <= set(by_kind["PersistentVolumeClaim"])
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    api = by_kind["Deployment"]["gateway-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = by_kind["Deployment"]["gateway-worker"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    hpa = by_kind["HorizontalPodAutoscaler"]["gateway-worker"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway-worker"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    for service in by_kind["Service"].values():
        selector = service["spec"]["selector"]
        assert any(
            selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in by_kind["Deployment"].values()
        ), service["metadata"]["name"]


def test_every_pod_meets_the_restricted_pod_security_standard() -> None:
    workloads = [d for d in manifests() if d["kind"] in ("Deployment", "Job")]
    assert len(workloads) >= 5
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert not pod.get("hostNetwork"), name
        assert not pod.get("hostPID"), name
        for container in pod["containers"]:
            own = container["securityContext"]
            assert own["allowPrivilegeEscalation"] is False, name
            assert own["readOnlyRootFilesystem"] is True, name
            assert own["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in own["capabilities"], name
            assert not own.get("privileged"), name
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            if is_gateway(workload):
                assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"


def test_disruption_budgets_network_policy_ingress_and_pinned_images() -> None:
    by_kind = manifests_by_kind()
    deployments = by_kind["Deployment"]
    for name in ("gateway-api", "gateway-worker"):
        budget = by_kind["PodDisruptionBudget"][name]["spec"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["selector"]["matchLabels"].items() <= labels.items()
        assert budget["minAvailable"] >= 1
    policies = by_kind["NetworkPolicy"]
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    worker_egress = policies["gateway-worker"]["spec"]["egress"]
    public = [rule for rule in worker_egress for peer in rule.get("to", []) if "ipBlock" in peer]
    (webhooks,) = public
    block = webhooks["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
            "100.64.0.0/10"} <= set(block["except"])  # fmt: skip
    api_egress = policies["gateway-api"]["spec"]["egress"]
    assert not any("ipBlock" in peer for rule in api_egress for peer in rule.get("to", []))
    ingress = by_kind["Ingress"]["gateway"]["spec"]
    assert ingress["tls"]
    assert ingress["tls"][0]["secretName"]
    (image,) = [i for i in kustomization()["images"] if i["name"] == "rasa-gateway"]
    assert image.get("digest") or image.get("newTag") not in (None, "", "latest")
    (job,) = by_kind["Job"].values()
    release = image.get("newTag", "").replace(".", "-")
    assert job["metadata"]["name"].endswith(release), "the migration Job is named per release"
    for workload in by_kind["Deployment"].values():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert not container["image"].endswith(":latest"), container["image"]


def test_kustomize_renders_manifests_that_pass_strict_validation(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the raw manifests were checked above")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120
    )
    assert rendered.returncode == 0, rendered.stderr
    objects = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    kinds = {doc["kind"] for doc in objects}
    assert {"Deployment", "Job", "NetworkPolicy", "PodDisruptionBudget", "Ingress"} <= kinds
    configs = {doc["metadata"]["name"].rsplit("-", 1)[0]: doc for doc in objects
               if doc["kind"] == "ConfigMap"}  # fmt: skip
    assert "alerts.yml" in configs["prometheus-config"]["data"]
    assert "alertmanager.yml" in configs["alertmanager-config"]["data"]
    images = {c["image"] for doc in objects if doc["kind"] in ("Deployment", "Job")
              for c in doc["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert not any(image.endswith(":latest") or ":" not in image for image in images), images
    output = tmp_path / "rendered.yaml"
    output.write_text(rendered.stdout)
    validator = shutil.which("kubernetes-validate") or str(
        Path(sys.executable).parent / "kubernetes-validate"
    )
    if not Path(validator).exists():
        pytest.skip("kubernetes-validate is not installed (pip install -e '.[dev]')")
    checked = subprocess.run(
        [validator, "--strict", "--quiet", str(output)], capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_a_runbook_and_a_unit_test() -> None:
    rules = [rule for group in load_all(ALERTS)[0]["groups"] for rule in group["rules"]]
    tests = load_all(ALERTS.with_name("alerts.test.yml"))[0]["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    for rule in rules:
        runbook = rule["annotations"]["runbook_url"]
        assert runbook == f"docs/runbooks/{rule['alert']}.md"
        assert (PROJECT_ROOT / runbook).is_file(), runbook
        assert rule["alert"] in tested, f"{rule['alert']} has no firing case in alerts.test.yml"


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: `make promtool` (root) installs it")
    done = subprocess.run(
        [promtool, "test", "rules", str(ALERTS.with_name("alerts.test.yml"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alertmanager_routes_by_severity_and_prometheus_sends_to_it() -> None:
    config = load_all(DEPLOY / "alertmanager" / "alertmanager.yml")[0]
    routes = {tuple(route["matchers"]): route["receiver"] for route in config["route"]["routes"]}
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert routes[('severity="page"',)] in receivers
    assert routes[('severity="warn"',)] in receivers
    assert all(r.get("webhook_configs") for r in config["receivers"])
    for name in ("prometheus.yml", "prometheus-kubernetes.yml"):
        scrape = load_all(DEPLOY / "prometheus" / name)[0]
        targets = scrape["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        assert targets == ["alertmanager:9093"], name
    compose = load_all(DEPLOY / "docker-compose.yml")[0]["services"]
    mounted = compose["alertmanager"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).resolve() == (DEPLOY / "alertmanager" / "alertmanager.yml")
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed: `make promtool` (root) installs it")
    done = subprocess.run(
        [amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_copies_what_exists_and_runs_the_cli() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for part in source.split():
            assert (PROJECT_ROOT / part).exists(), part
    assert 'ENTRYPOINT ["gateway"]' in text
    assert set(GATEWAY_VARIABLE.findall(text)) <= SETTINGS


def test_every_gateway_variable_in_deploy_is_a_setting() -> None:
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            unknown = set(GATEWAY_VARIABLE.findall(path.read_text())) - SETTINGS
            assert not unknown, f"{path}: {unknown}"


def test_the_configuration_table_matches_the_settings() -> None:
    page = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `GATEWAY_")]
    documented = {name for row in rows for name in GATEWAY_VARIABLE.findall(row.split("|")[1])}
    assert SETTINGS - documented == set(), "settings missing from docs/configuration.md's table"
    assert documented - SETTINGS == set(), "docs/configuration.md documents unknown variables"
