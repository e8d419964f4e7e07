"""Offline validation of Kubernetes manifests: built-in kinds with kubernetes-validate's schemas,
custom resources with the CRDs vendored in ``schemas/crds``, and object metadata rules.

``problems(doc)`` returns human-readable findings (empty when the object is valid), so a test
failure lists every broken field at once with the object it belongs to.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
K8S = REPO / "deploy" / "k8s"
CRD_DIR = HERE / "schemas" / "crds"
# The Kubernetes minor version the manifests are written for (schemas ship with kubernetes-validate).
KUBERNETES_VERSION = "1.30"
KUSTOMIZE_KINDS = {"Kustomization", "Component"}

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def manifest_files() -> list[Path]:
    """Every YAML file under deploy/k8s that holds Kubernetes objects (not kustomize config)."""
    files = []
    for path in sorted(K8S.rglob("*.y*ml")):
        docs = load_documents(path)
        if docs and all(doc.get("kind") not in KUSTOMIZE_KINDS for doc in docs):
            files.append(path)
    return files


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize`` output as objects (the caller skips when kubectl is absent)."""
    binary = kubectl()
    assert binary is not None
    result = subprocess.run([binary, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory.relative_to(REPO)} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def _strict(schema: Any) -> Any:
    """OpenAPI v3 (structural CRD schema) -> JSON Schema that rejects unknown fields."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items() if not key.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        out.pop("nullable", None)
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in schema and "additionalProperties" not in schema and not preserve:
        out["additionalProperties"] = False
    return out


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> validator, from every vendored CRD and each of its served versions."""
    validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = load_documents(path)[0]
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            jsonschema.Draft7Validator.check_schema(schema)
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def _metadata_problems(doc: dict[str, Any]) -> list[str]:
    meta = doc.get("metadata") or {}
    name = meta.get("name", "")
    found = []
    if not name or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        found.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, label = key.rpartition("/")
        if len(label) > 63 or not _LABEL_NAME.match(label) or (prefix and not _DNS1123_SUBDOMAIN.match(prefix)):
            found.append(f"label key {key!r} is invalid")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            found.append(f"label {key}={value!r}: value is invalid")
    return found


def problems(doc: dict[str, Any]) -> list[str]:
    """Everything wrong with one object; empty means valid."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not api_version or not kind:
        return ["object without apiVersion/kind"]
    found = _metadata_problems(doc)
    validator = crd_validators().get((api_version, kind))
    if validator is not None:
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            found.append(f"{where}: {error.message}")
        return found
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError as error:
        found.append(f"no schema for {kind} {api_version}: {error.message} (vendor its CRD into schemas/crds)")
    return found


def describe(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
