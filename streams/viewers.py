"""Who may use the dashboard and the workers' APIs, and which wards each caller may see.

Two kinds of credentials, both optional, the same for the dashboard and every worker:

* the **operator token** (``IOC_DASHBOARD_TOKEN`` or a file named by ``IOC_DASHBOARD_TOKEN_FILE``):
  every ward, personal data masked for every ward;
* **ward viewers** (a YAML file named by ``IOC_DASHBOARD_VIEWERS``): each has a token (stored as
  its SHA-256, never in clear) and the ward codes it may see (``"*"`` = all); a ward viewer sees
  its wards' incidents only, and their reporters in clear::

      viewers:
        - name: phuong-ben-thanh-duty
          token_sha256: de06a7b8b446d1da89e49f968b37e8d2964224e8f8a493018ae580af70ec9a3a  # sha256 of example-ward-token
          wards: ["26740"]

Tokens are compared in constant time (``hmac.compare_digest``). With neither configured, a server
on a loopback address is open (as :data:`ANONYMOUS`, every ward) and one beyond loopback is closed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from jsonschema import Draft202012Validator

from routers.exceptions import Rejected
from streams import webguard
from streams.settings import Settings

COOKIE = "ioc_dashboard_token"
ALL_WARDS = "*"

_VIEWERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["viewers"],
    "properties": {
        "viewers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "token_sha256", "wards"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "token_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "wards": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "pattern": r"^(\d{5}|\*)$"},
                    },
                },
            },
        }
    },
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """An authenticated person (or screen). ``wards`` lists where personal data is visible."""

    name: str
    wards: frozenset[str] = frozenset()

    def may_see_personal_data(self, ward: str | None) -> bool:
        return ALL_WARDS in self.wards or (ward is not None and ward in self.wards)

    @property
    def ward_scope(self) -> frozenset[str] | None:
        """Least privilege: a ward viewer sees its wards' incidents and feed only; the operator,
        a city-wide viewer and an open dashboard (``None``) see every ward, masked as above."""
        return None if not self.wards or ALL_WARDS in self.wards else self.wards

    def may_see_ward(self, ward: str | None) -> bool:
        scope = self.ward_scope
        return scope is None or (ward is not None and ward in scope)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "wards": sorted(self.wards)}


ANONYMOUS = Viewer("anonymous")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_viewers(path: Path) -> dict[str, Viewer]:
    """``token_sha256 -> Viewer`` from a viewers file; a bad file raises :class:`Rejected` naming it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Rejected("viewers_unreadable", f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise Rejected("viewers_bad_yaml", f"{path}: {exc}") from None
    errors = sorted(Draft202012Validator(_VIEWERS_SCHEMA).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(file)"
        raise Rejected("viewers_invalid", f"{path}: {where}: {errors[0].message}")
    viewers: dict[str, Viewer] = {}
    for entry in data["viewers"]:
        if entry["token_sha256"] in viewers:
            raise Rejected("viewers_invalid", f"{path}: viewer {entry['name']!r} reuses another viewer's token")
        viewers[entry["token_sha256"]] = Viewer(entry["name"], frozenset(entry["wards"]))
    return viewers


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    operator_token: str | None = None
    viewers: Mapping[str, Viewer] | None = None

    @property
    def required(self) -> bool:
        return bool(self.operator_token) or bool(self.viewers)

    def viewer_for_token(self, token: str | None) -> Viewer | None:
        """The viewer a token stands for, or ``None`` when it opens nothing."""
        if not token:
            return None
        digest = token_hash(token)
        found: Viewer | None = None
        for known, viewer in (self.viewers or {}).items():
            if hmac.compare_digest(known, digest):
                found = viewer
        if found is None and self.operator_token and hmac.compare_digest(
            token.encode("utf-8"), self.operator_token.encode("utf-8")
        ):
            found = Viewer("operator")
        return found

    def authenticate(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Viewer | None:
        """The viewer of a request, ``None`` when access is required and no valid credential came."""
        if not self.required:
            return ANONYMOUS
        return self.viewer_for_token(webguard.presented_token(headers, cookies, COOKIE))


def load_access(settings: Settings) -> AccessPolicy:
    """The operator token and the ward viewers of ``settings``; a bad viewers file raises :class:`Rejected`."""
    viewers = load_viewers(settings.dashboard_viewers) if settings.dashboard_viewers else None
    return AccessPolicy(operator_token=settings.dashboard_token or None, viewers=viewers)


def access_gate(policy: AccessPolicy, host: str, key: web.RequestKey[Viewer], realm: str,
                cookie: str | None = None, refusal: str = webguard.Gate.refusal) -> webguard.Gate[Viewer]:
    """The :class:`streams.webguard.Gate` of a server bound to ``host``: the caller's :class:`Viewer`
    from its token (``Authorization``, or the ``cookie`` when named); without credentials configured,
    open on loopback and closed beyond it."""
    if policy.required:
        return webguard.Gate(
            lambda r: policy.viewer_for_token(webguard.presented_token(r.headers, r.cookies if cookie else None, cookie)), key, realm=realm,
            refusal=refusal)
    if webguard.is_loopback(host):
        return webguard.Gate(lambda r: ANONYMOUS, key, realm=realm)
    return webguard.Gate(lambda r: None, key, realm=realm, refusal=webguard.closed_message(host))
