"""The topology (intentflow/topology.py) is the one declaration of topics, consumer groups and ports:
the README's topic table, the settings defaults and the Kubernetes manifests must agree with it."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from intentflow import topology
from intentflow.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
HEALTH_PORT_ENV = "INTENTFLOW_HEALTH_PORT"
SECRET_FILES = ("INTENTFLOW_TLS_CERT", "INTENTFLOW_TLS_KEY", "INTENTFLOW_TOKENS_FILE")


def test_readme_topic_table_is_the_topology():
    assert topology.markdown_table() in (ROOT / "README.md").read_text("utf-8"), \
        "README's topic table is stale: paste the output of `intentflow config --topics`"


@pytest.mark.parametrize("topic", topology.TOPICS, ids=lambda t: t.default)
def test_every_topic_has_its_setting_with_the_topology_default(topic):
    fields = {f.name: f for f in dataclasses.fields(KafkaSettings)}
    assert topic.setting in fields
    assert fields[topic.setting].default == topic.default
    assert fields[topic.setting].metadata["env"] == topic.env
    assert KafkaSettings().name(topic) == topic.default


def load_manifest(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((MANIFESTS / f"{name}.yaml").read_text("utf-8")) if doc]


def manifest_problems(spec: topology.Service, documents: list[dict]) -> list[str]:
    """How a service's manifest disagrees with the topology (empty when it agrees)."""
    deployments = [d for d in documents if d.get("kind") == "Deployment"]
    if len(deployments) != 1:
        return [f"expected one Deployment, found {len(deployments)}"]
    containers = deployments[0]["spec"]["template"]["spec"]["containers"]
    container = next((c for c in containers if c.get("name") == spec.name), None)
    if container is None:
        return [f"no container named {spec.name}"]
    problems = []
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if ports.get("grpc") != spec.grpc_port:
        problems.append(f"container port grpc is {ports.get('grpc')}, topology says {spec.grpc_port}")
    if ports.get("metrics") != spec.metrics_port:
        problems.append(f"container port metrics is {ports.get('metrics')}, topology says {spec.metrics_port}")
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    # Probes ask the plaintext health port when there is one (the kubelet cannot speak TLS), else the gRPC port.
    health = int(env[HEALTH_PORT_ENV]) if env.get(HEALTH_PORT_ENV) else spec.grpc_port
    if env.get(HEALTH_PORT_ENV) and ports.get("health") != health:
        problems.append(f"container port health is {ports.get('health')}, {HEALTH_PORT_ENV} says {health}")
    for kind in ("readinessProbe", "livenessProbe"):
        probe = container.get(kind, {}).get("grpc", {}).get("port")
        if probe != health:
            problems.append(f"{kind} gRPC port is {probe}, health is served on {health}")
    expected = {spec.group_env: spec.group_default, spec.consumes.env: spec.consumes.default}
    expected.update({t.env: t.default for t in spec.produces})
    for name, value in expected.items():
        if env.get(name) != value:
            problems.append(f"env {name} is {env.get(name)!r}, topology says {value!r}")
    return problems


@pytest.mark.parametrize("name", topology.SERVICES)
def test_kubernetes_manifest_matches_the_topology(name):
    assert manifest_problems(topology.SERVICE_SPECS[name], load_manifest(name)) == []


def _env(documents: list[dict], name: str) -> dict:
    container = documents[0]["spec"]["template"]["spec"]["containers"][0]
    return next(e for e in container["env"] if e["name"] == name)


def test_the_check_catches_a_wrong_group_id():
    spec = topology.SERVICE_SPECS[topology.CLASSIFY]
    documents = copy.deepcopy(load_manifest(topology.CLASSIFY))
    _env(documents, spec.group_env)["value"] = "intentflow-classify-old"
    problems = manifest_problems(spec, documents)
    assert len(problems) == 1 and spec.group_env in problems[0]


def test_the_check_catches_a_wrong_topic_and_port():
    spec = topology.SERVICE_SPECS[topology.MATCH]
    documents = copy.deepcopy(load_manifest(topology.MATCH))
    _env(documents, topology.LEADS_SALES.env)["value"] = "leads.sales.v2"
    documents[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = 50051
    problems = manifest_problems(spec, documents)
    assert len(problems) == 2
    assert any(topology.LEADS_SALES.env in p for p in problems) and any("readiness" in p for p in problems)


@pytest.mark.parametrize("name", topology.SERVICES)
def test_tls_and_tokens_come_from_mounted_secrets(name):
    pod = load_manifest(name)[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container["env"]}
    secrets = {v["name"] for v in pod["volumes"] if "secret" in v}
    mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in secrets and m.get("readOnly")]
    for variable in SECRET_FILES:
        assert any(env.get(variable, "").startswith(mount + "/") for mount in mounts), \
            f"{variable} is not a file of a Secret mounted read-only"
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
