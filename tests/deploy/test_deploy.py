"""deploy/ checked without Docker or a cluster: alert rules through promtool, metric names
against gateway.metrics, compose and Kubernetes manifests against the CLI and settings,
and docs/configuration.md's table against the settings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    datasource = load_all(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")[0]
    assert uids == {datasource["datasources"][0]["uid"]}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


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
    assert {"postgres", "rabbitmq", "migrate", "api", "worker", "prometheus", "grafana"} <= set(
        services
    )
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


def test_kubernetes_manifests_are_consistent() -> None:
    folder = DEPLOY / "kubernetes"
    kustomization = load_all(folder / "kustomization.yaml")[0]
    docs = [doc for name in kustomization["resources"] for doc in load_all(folder / name)]
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    config = by_kind["ConfigMap"]["gateway-config"]["data"]
    secret = by_kind["Secret"]["gateway-secrets"]["stringData"]
    assert set(config) | set(secret) <= SETTINGS
    assert {"GATEWAY_DATABASE_URL", "GATEWAY_BROKER_URL", "GATEWAY_SECRET_KEY"} <= set(secret)
    workloads = [*by_kind["Deployment"].values(), *by_kind["Job"].values()]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert container["image"] == "rasa-gateway"
            assert_runs_a_cli_command(container["args"])
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert sources == {"gateway-config", "gateway-secrets"}
            claims = {v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
                      if "persistentVolumeClaim" in v}  # fmt: skip
            assert claims <= set(by_kind["PersistentVolumeClaim"])
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
