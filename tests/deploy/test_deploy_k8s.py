"""deploy/k8s: every manifest and every rendered overlay validates offline, and the access model holds."""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest

from routers import topics
from tests.deploy.k8s_validation import (
    CRD_DIR,
    K8S,
    KUBERNETES_VERSION,
    REPO,
    describe,
    kubectl,
    load_documents,
    manifest_files,
    problems,
    render,
)

_spec = importlib.util.spec_from_file_location("strimzi_gen", K8S / "tools" / "strimzi_gen.py")
assert _spec is not None and _spec.loader is not None
strimzi_gen = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("strimzi_gen", strimzi_gen)  # dataclasses look their module up by name
_spec.loader.exec_module(strimzi_gen)

CITIES = {"hcmc": 168, "hanoi": 126, "danang": 94}
SHARED_FILES = {"hcmc": "vn2025-79-hcmc.geojson.gz", "hanoi": "vn2025-01-hanoi.geojson.gz",
                "danang": "vn2025-48-danang.geojson.gz"}
needs_kubectl = pytest.mark.skipif(kubectl() is None, reason="kubectl not on PATH: overlays not rendered "
                                   "(install kubectl to run `kubectl kustomize`)")


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    if kubectl() is None:
        pytest.skip("kubectl not on PATH: overlays not rendered")
    return {city: render(K8S / "overlays" / city) for city in CITIES}


@pytest.fixture(scope="module")
def base_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted((K8S / "base").glob("*.yaml")) for doc in load_documents(path)
            if doc.get("kind") != "Kustomization"]


# --- the validator itself -------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(CRD_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_vendored_crd_is_a_valid_custom_resource_definition(path: Path) -> None:
    for doc in load_documents(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _deployment() -> dict[str, Any]:
    return copy.deepcopy(load_documents(K8S / "base" / "worker-deployment.yaml")[0])


def _user() -> dict[str, Any]:
    return copy.deepcopy(load_documents(K8S / "base" / "kafka-users.yaml")[0])


def _break(doc: dict[str, Any], path: str | list[str], value: Any) -> dict[str, Any]:
    """Set a dotted path (or a list of keys; list indexes as numbers) to ``value``; ``...`` deletes it."""
    keys = path.split(".") if isinstance(path, str) else path
    *parents, last = [int(p) if p.isdigit() else p for p in keys]
    node: Any = doc
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


BROKEN = [
    ("unknown Deployment field", lambda: _break(_deployment(), "spec.replica", 2), "replica"),
    ("container port as text", lambda: _break(_deployment(), "spec.template.spec.containers.0.ports.0.containerPort",
                                              "9100"), "containerPort"),
    ("probe without handler port", lambda: _break(_deployment(),
                                                  "spec.template.spec.containers.0.readinessProbe.httpGet.port", ...),
     "port"),
    ("bad name", lambda: _break(_deployment(), "metadata.name", "IOC_Worker"), "DNS-1123"),
    ("bad label value", lambda: _break(_deployment(), ["metadata", "labels", "app.kubernetes.io/name"], "a b"), "label"),
    ("ACL operation typo", lambda: _break(_user(), "spec.authorization.acls.0.operations", ["Reed"]), "Reed"),
    ("unknown ACL field", lambda: _break(_user(), "spec.authorization.acls.0.resource.pattern", "prefix"),
     "pattern"),
    ("authentication type", lambda: _break(_user(), "spec.authentication.type", "scram-sha-256"), "scram-sha-256"),
    ("topic with no partitions", lambda: _break(load_documents(K8S / "base" / "kafka-topics.yaml")[0],
                                                "spec.partitions", 0), "minimum"),
    ("ServiceMonitor interval", lambda: _break(load_documents(K8S / "base" / "worker-servicemonitor.yaml")[0],
                                               "spec.endpoints.0.interval", "15 seconds"), "interval"),
    ("KEDA metadata must be strings", lambda: _break(
        load_documents(K8S / "components" / "keda-lag" / "scaledobject.yaml")[0],
        "spec.triggers.0.metadata.lagThreshold", 2000), "lagThreshold"),
    ("unknown kind", lambda: {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
     "no schema"),
]


@pytest.mark.parametrize(("case", "make", "expected"), BROKEN, ids=[c[0] for c in BROKEN])
def test_validator_rejects_a_broken_object(case: str, make: Any, expected: str) -> None:
    found = problems(make())
    assert found, f"{case}: the broken object was accepted"
    assert any(expected in p for p in found), f"{case}: {found}"


# --- every file, then every rendered overlay -------------------------------------------------------

@pytest.mark.parametrize("path", manifest_files(), ids=_rel)
def test_manifest_file_is_valid(path: Path) -> None:
    docs = load_documents(path)
    assert docs, f"{_rel(path)} holds no object"
    found = [f"{describe(doc)}: {p}" for doc in docs for p in problems(doc)]
    assert not found, "\n".join(found)


@needs_kubectl
@pytest.mark.parametrize("city", sorted(CITIES))
def test_overlay_renders_to_valid_objects(city: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[city]
    found = [f"{describe(doc)}: {p}" for doc in docs for p in problems(doc)]
    assert not found, "\n".join(found[:50])
    namespaced = [d for d in docs if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {f"ioc-{city}"}
    assert {d["metadata"]["labels"].get("ioc.city") for d in docs} == {city}
    config = _one(docs, "ConfigMap", "ioc-router-config")
    assert config["data"]["IOC_CITY"] == city


@needs_kubectl
def test_base_renders_on_its_own() -> None:
    docs = render(K8S / "base")
    assert not [p for doc in docs for p in problems(doc)]


@needs_kubectl
@pytest.mark.parametrize("city", sorted(CITIES))
def test_overlay_has_one_topic_and_one_user_per_ward(city: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[city]
    ward_topics = {d["spec"]["topicName"] for d in _by_kind(docs, "KafkaTopic")
                   if d["spec"]["topicName"].startswith("ioc.ward.")}
    ward_users = {d["metadata"]["name"] for d in _by_kind(docs, "KafkaUser") if d["metadata"]["name"].startswith("ward-")}
    assert len(ward_topics) == CITIES[city]
    assert ward_users == {"ward-" + t.removeprefix("ioc.ward.") for t in ward_topics}
    all_topics = {d["spec"]["topicName"] for d in _by_kind(docs, "KafkaTopic")}
    assert set(topics.fixed_topics(legacy_status=False)) <= all_topics
    assert {topics.ward_status_topic(t.removeprefix("ioc.ward.")) for t in ward_topics} <= all_topics


@needs_kubectl
@pytest.mark.parametrize("city", sorted(CITIES))
def test_exactly_one_autoscaler_per_overlay(city: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[city]
    scalers = _by_kind(docs, "HorizontalPodAutoscaler") + _by_kind(docs, "ScaledObject")
    assert len(scalers) == 1, [describe(d) for d in scalers]


# --- access control ---------------------------------------------------------------------------------

def _allows(acl: dict[str, Any], kind: str, name: str, operation: str) -> bool:
    resource = acl["resource"]
    if acl.get("type", "allow") != "allow" or resource["type"] != kind:
        return False
    ops = set(acl.get("operations") or [acl.get("operation")])
    if not ops & {operation, "All"}:
        return False
    pattern = resource.get("patternType", "literal")
    return name == resource["name"] or (pattern == "prefix" and name.startswith(resource["name"])) \
        or resource["name"] == "*"


def _topics_allowed(user: dict[str, Any], operation: str, candidates: set[str]) -> set[str]:
    acls = user["spec"]["authorization"]["acls"]
    return {t for t in candidates if any(_allows(a, "topic", t, operation) for a in acls)}


@needs_kubectl
@pytest.mark.parametrize("city", sorted(CITIES))
def test_each_ward_system_reads_only_its_own_topic_and_writes_only_its_status_topic(
        city: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[city]
    every_topic = {d["spec"]["topicName"] for d in _by_kind(docs, "KafkaTopic")}
    # Names that do not exist yet must not be readable either (e.g. a neighbour ward added later).
    candidates = every_topic | {"ioc.ward.99999", "ioc.ward.", "ioc-router-changelog", "ioc.status",
                                "ioc.status.99999"}
    wards = [u for u in _by_kind(docs, "KafkaUser") if u["metadata"]["name"].startswith("ward-")]
    assert wards
    for user in wards:
        code = user["metadata"]["name"].removeprefix("ward-")
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert _topics_allowed(user, "Read", candidates) == {f"ioc.ward.{code}"}, user["metadata"]["name"]
        assert _topics_allowed(user, "Write", candidates) == {f"ioc.status.{code}"}, user["metadata"]["name"]
        assert f"ioc.status.{code}" in every_topic
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["resource"].get("patternType") == "literal", f"{user['metadata']['name']}: prefix ACL"
            assert acl["resource"]["type"] != "cluster"


def test_agencies_read_only_their_own_topic(base_docs: list[dict[str, Any]]) -> None:
    every_topic = {d["spec"]["topicName"] for d in _by_kind(base_docs, "KafkaTopic")}
    agencies = [u for u in _by_kind(base_docs, "KafkaUser") if u["metadata"]["name"].startswith("agency-")]
    assert {u["metadata"]["name"] for u in agencies} == {f"agency-{a}" for a in topics.AGENCIES}
    for user in agencies:
        name = user["metadata"]["name"].removeprefix("agency-")
        assert _topics_allowed(user, "Read", every_topic) == {topics.agency_topic(name)}
        assert _topics_allowed(user, "Write", every_topic | {topics.STATUS}) == {topics.agency_status_topic(name)}


def _denied(user: dict[str, Any], operation: str, topic: str) -> bool:
    return any(acl.get("type") == "deny" and {operation, "All"} & set(acl["operations"])
               and acl["resource"]["type"] == "topic"
               and (topic == acl["resource"]["name"]
                    or (acl["resource"].get("patternType") == "prefix" and topic.startswith(acl["resource"]["name"])))
               for acl in user["spec"]["authorization"]["acls"])


@needs_kubectl
@pytest.mark.parametrize("city", sorted(CITIES))
def test_only_the_actor_may_write_its_status_topic(city: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The topic says who acts (issue 16): each ioc.status.* topic has exactly one writer, its actor;
    the workers' prefix ACL on ioc. is overridden by a deny (Kafka: deny wins)."""
    docs = rendered[city]
    status_topics = {d["spec"]["topicName"] for d in _by_kind(docs, "KafkaTopic")
                     if d["spec"]["topicName"].startswith(topics.STATUS_PREFIX)}
    assert topics.STATUS not in status_topics and topics.CITY_IOC_STATUS in status_topics
    users = _by_kind(docs, "KafkaUser")
    for topic in sorted(status_topics):
        writers = {u["metadata"]["name"] for u in users
                   if _topics_allowed(u, "Write", {topic}) and not _denied(u, "Write", topic)}
        actor = topics.actor_of_status_topic(topic)
        assert actor is not None
        expected = actor.replace(":", "-")  # ward:27139 -> ward-27139, agency:fire -> agency-fire, city-ioc
        assert writers == {expected}, (topic, writers)
    worker = next(u for u in users if u["metadata"]["name"] == "ioc-router")
    assert _denied(worker, "Write", "ioc.status.27139") and not _denied(worker, "Write", topics.INCIDENTS)


def test_legacy_status_topic_is_off_in_deploy() -> None:
    config = load_documents(K8S / "base" / "configmap.yaml")[0]["data"]
    assert config["IOC_LEGACY_STATUS_TOPIC"] == "false"
    compose = (K8S.parent / "compose.yaml").read_text(encoding="utf-8")
    assert 'IOC_LEGACY_STATUS_TOPIC: "false"' in compose


def test_intake_producers_cannot_read_anything(base_docs: list[dict[str, Any]]) -> None:
    every_topic = {d["spec"]["topicName"] for d in _by_kind(base_docs, "KafkaTopic")}
    intake = _one(base_docs, "KafkaUser", "ioc-intake")
    assert _topics_allowed(intake, "Read", every_topic) == set()
    assert _topics_allowed(intake, "Write", every_topic) == set(topics.INTAKE)


def test_the_acl_check_itself_catches_a_leak() -> None:
    """A ward user given a prefix ACL would read its neighbours: the helper must see that."""
    leaky = strimzi_gen.ward_user("26740").manifest()
    leaky["spec"]["authorization"]["acls"][0]["resource"].update({"name": "ioc.ward.", "patternType": "prefix"})
    readable = _topics_allowed(leaky, "Read", {"ioc.ward.26740", "ioc.ward.26734", "ioc.status.26740"})
    assert readable == {"ioc.ward.26740", "ioc.ward.26734"}


# --- topics, sizing, generated files ---------------------------------------------------------------

def test_every_fixed_topic_has_a_kafkatopic_sized_for_the_workers(base_docs: list[dict[str, Any]]) -> None:
    declared = {d["spec"]["topicName"]: d["spec"] for d in _by_kind(base_docs, "KafkaTopic")}
    assert set(declared) == set(topics.fixed_topics(legacy_status=False))
    config = _one(base_docs, "ConfigMap", "ioc-router-config")["data"]
    partitions = int(config["IOC_PARTITIONS"])
    for name in topics.INTAKE:
        assert declared[name]["partitions"] == partitions, f"{name} must have IOC_PARTITIONS partitions"
    for name in topics.COMPACTED:
        assert declared[name]["config"]["cleanup.policy"] == "compact"
    for spec in declared.values():
        assert spec["replicas"] >= 3 and spec["config"]["min.insync.replicas"] == 2
    hpa = _one(base_docs, "HorizontalPodAutoscaler", "ioc-worker")
    keda = load_documents(K8S / "components" / "keda-lag" / "scaledobject.yaml")[0]
    assert hpa["spec"]["maxReplicas"] == partitions, "a worker beyond the partition count would sit idle"
    assert keda["spec"]["maxReplicaCount"] == partitions
    assert {t["metadata"]["topic"] for t in keda["spec"]["triggers"]} == set(topics.INTAKE)
    assert {t["metadata"]["consumerGroup"] for t in keda["spec"]["triggers"]} == {config["IOC_APP_ID"]}


def test_generated_manifests_are_up_to_date() -> None:
    stale = [str(path.relative_to(K8S)) for path, text in strimzi_gen.expected_files().items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"run `.venv/bin/python deploy/k8s/tools/strimzi_gen.py all`; stale: {stale}"


@pytest.mark.parametrize("city", sorted(CITIES))
def test_ward_code_lists_have_the_post_merger_counts(city: str) -> None:
    codes = strimzi_gen.read_codes(K8S / "overlays" / city / "ward-codes.txt")
    assert len(codes) == CITIES[city]


@pytest.mark.realdata
@pytest.mark.parametrize("city", sorted(CITIES))
def test_ward_codes_match_the_shared_boundaries(city: str, shared_boundaries: Path) -> None:
    from_data = strimzi_gen.codes_from_geojson(shared_boundaries / SHARED_FILES[city], strimzi_gen.CITIES[city])
    assert strimzi_gen.read_codes(K8S / "overlays" / city / "ward-codes.txt") == from_data


@pytest.mark.parametrize(("text", "message"), [
    ("26740\n2674\n", ":2: '2674' is not a 5-digit ward code"),
    ("# comment\n26740 # Sai Gon\nabcde\n", ":3: 'abcde' is not a 5-digit ward code"),
    ("26740\n26740\n", "duplicate ward codes ['26740']"),
])
def test_code_list_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "codes.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(click.ClickException) as caught:
        strimzi_gen.read_codes(path)
    assert message in caught.value.message


# --- workloads ---------------------------------------------------------------------------------------

def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_worker_probes_hit_the_web_endpoint(base_docs: list[dict[str, Any]]) -> None:
    worker = _one(base_docs, "Deployment", "ioc-worker")
    container = _container(worker)
    config = _one(base_docs, "ConfigMap", "ioc-router-config")["data"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["web"] == int(config["IOC_WORKER_WEB_PORT"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "web"}, probe
    assert container["args"] == ["worker"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    pod = worker["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] >= 30, "SIGTERM needs time to leave the group"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_service_monitor_scrapes_the_worker_service_as_job_ioc_worker(base_docs: list[dict[str, Any]]) -> None:
    service = _one(base_docs, "Service", "ioc-worker")  # the Prometheus job label alerts.yml uses
    monitor = _one(base_docs, "ServiceMonitor", "ioc-worker")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
    worker = _one(base_docs, "Deployment", "ioc-worker")
    assert service["spec"]["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()


def test_secret_files_named_in_config_are_mounted(base_docs: list[dict[str, Any]]) -> None:
    config = _one(base_docs, "ConfigMap", "ioc-router-config")["data"]
    file_settings = {k: v for k, v in config.items() if k.endswith("_FILE") or k == "IOC_KAFKA_SSL_CAFILE"}
    assert file_settings
    for name in ("ioc-worker", "ioc-dashboard"):
        deployment = _one(base_docs, "Deployment", name)
        container = _container(deployment)
        env_files = {e["name"]: e["value"] for e in container.get("env", []) if e["name"].endswith("_FILE")}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        for setting, path in {**file_settings, **env_files}.items():
            mounts = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
            assert mounts, f"{name}: {setting}={path} is not under any volume mount"
            volume = volumes[mounts[0]["name"]]
            item = path.removeprefix(mounts[0]["mountPath"] + "/")
            assert "secret" in volume, f"{name}: {setting} must come from a Secret"
            assert item in {i["path"] for i in volume["secret"]["items"]}, f"{name}: {setting}: no item {item}"


_SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|API_KEY", re.IGNORECASE)


def test_no_secret_values_in_the_deploy_tree() -> None:
    for path in sorted((REPO / "deploy").rglob("*.y*ml")):
        for doc in load_documents(path):
            assert doc.get("kind") != "Secret", f"{_rel(path)}: Secrets are created in the cluster, not committed"
            for key, value in _walk_env(doc):
                if _SECRET_NAME.search(key) and not key.endswith("_FILE"):
                    assert isinstance(value, str) and (value == "" or value.startswith("${")), \
                        f"{_rel(path)}: {key} has a literal value"


def _walk_env(node: Any) -> list[tuple[str, Any]]:
    """(name, literal value) for every env entry and every environment/data mapping in a document."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        if "name" in node and "value" in node and isinstance(node["name"], str):
            found.append((node["name"], node["value"]))
        for key, value in node.items():
            if key in {"environment", "data", "stringData"} and isinstance(value, dict):
                found.extend((k, v) for k, v in value.items())
            else:
                found.extend(_walk_env(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_walk_env(item))
    return found


def test_capacity_figures_in_the_docs_follow_the_topic_layout() -> None:
    """docs/deploy.md derives topic and partition counts from these manifests: keep them in step."""
    docs = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    fixed = strimzi_gen.fixed_topic_specs()
    partitions = sum(t.partitions for t in fixed)
    replicas = strimzi_gen.REPLICAS
    assert f"{len(fixed)} topics, {partitions} partitions, {partitions * replicas} partition replicas" in docs
    per_ward = 2 * 3321  # ioc.ward.<code> and ioc.status.<code>, one partition each
    assert (f"{per_ward + len(fixed):,} topics, {per_ward + partitions:,} partitions, "
            f"{(per_ward + partitions) * replicas:,} partition replicas") in docs
