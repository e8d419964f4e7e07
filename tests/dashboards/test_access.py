"""Access: the viewers file (one test per rejection), credentials, and personal data per viewer."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dashboards.access import (
    ANONYMOUS,
    COOKIE,
    MASKED_NAME,
    AccessPolicy,
    Viewer,
    for_viewer,
    load_viewers,
    mask_reporter,
    token_hash,
)
from dashboards.config import load_config
from routers.exceptions import Rejected
from streams.settings import Settings, SettingsError, load_settings

WARD_TOKEN = "ward-26740-secret"
CITY_TOKEN = "city-duty-secret"
ZERO = "'" + "0" * 64 + "'"  # quoted: YAML would read 000... as the number 0


def viewers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "viewers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def good_file(tmp_path: Path) -> Path:
    return viewers_file(tmp_path, f"""
viewers:
  - name: ben-thanh-duty
    token_sha256: {token_hash(WARD_TOKEN)}
    wards: ["26740"]
  - name: city-duty
    token_sha256: {token_hash(CITY_TOKEN)}
    wards: ["*"]
""")


def test_viewers_file_maps_tokens_to_wards(tmp_path: Path) -> None:
    viewers = load_viewers(good_file(tmp_path))
    assert viewers[token_hash(WARD_TOKEN)] == Viewer("ben-thanh-duty", frozenset({"26740"}))
    assert viewers[token_hash(CITY_TOKEN)].may_see_personal_data("27142")


@pytest.mark.parametrize(("text", "reason", "message"), [
    ("viewers: [", "viewers_bad_yaml", "viewers.yaml"),
    ("people: []", "viewers_invalid", "(file): Additional properties are not allowed ('people' was unexpected)"),
    ("viewers:\n  - name: a\n    token_sha256: abc\n    wards: ['26740']",
     "viewers_invalid", "viewers/0/token_sha256: 'abc' does not match"),
    (f"viewers:\n  - name: a\n    token_sha256: {ZERO}\n    wards: ['2674']",
     "viewers_invalid", "viewers/0/wards/0: '2674' does not match"),
    (f"viewers:\n  - name: a\n    token_sha256: {ZERO}\n    wards: []",
     "viewers_invalid", "viewers/0/wards: [] should be non-empty"),
    (f"viewers:\n  - name: a\n    token: x\n    token_sha256: {ZERO}\n    wards: ['26740']",
     "viewers_invalid", "viewers/0: Additional properties are not allowed ('token' was unexpected)"),
    (f"viewers:\n  - name: a\n    token_sha256: {ZERO}\n    wards: ['26740']\n"
     f"  - name: b\n    token_sha256: {ZERO}\n    wards: ['26741']",
     "viewers_invalid", "viewer 'b' reuses another viewer's token"),
])
def test_bad_viewers_file_is_rejected_with_where(tmp_path: Path, text: str, reason: str, message: str) -> None:
    with pytest.raises(Rejected) as caught:
        load_viewers(viewers_file(tmp_path, text))
    assert caught.value.reason == reason
    assert message in caught.value.detail


def test_missing_viewers_file(tmp_path: Path) -> None:
    with pytest.raises(Rejected) as caught:
        load_viewers(tmp_path / "nope.yaml")
    assert caught.value.reason == "viewers_unreadable"


def test_open_dashboard_without_configuration() -> None:
    policy = AccessPolicy()
    assert not policy.required
    assert policy.authenticate({}, {}) is ANONYMOUS
    assert not ANONYMOUS.may_see_personal_data("26740")


@pytest.mark.parametrize(("headers", "cookies", "expected"), [
    ({"Authorization": f"Bearer {WARD_TOKEN}"}, {}, "ben-thanh-duty"),
    ({"Authorization": "Basic " + base64.b64encode(f"anyone:{CITY_TOKEN}".encode()).decode()}, {}, "city-duty"),
    ({}, {COOKIE: "operator-token"}, "operator"),
    ({"Authorization": "Bearer operator-token"}, {}, "operator"),
    ({"Authorization": "Bearer wrong"}, {}, None),
    ({"Authorization": "Basic !!!not-base64"}, {}, None),
    ({}, {}, None),
])
def test_credentials(tmp_path: Path, headers: dict, cookies: dict, expected: str | None) -> None:
    policy = AccessPolicy("operator-token", load_viewers(good_file(tmp_path)))
    viewer = policy.authenticate(headers, cookies)
    assert (viewer.name if viewer else None) == expected


def test_operator_sees_no_personal_data() -> None:
    viewer = AccessPolicy("t").viewer_for_token("t")
    assert viewer is not None and not viewer.may_see_personal_data("26740")


ITEM = {
    "type": "event", "ward": "26740", "description": "Ngập sâu, gọi tôi 0903 123 456",
    "reporter": {"name": "Nguyễn Văn An", "phone": "0903123456"},
}


def test_personal_data_only_for_the_owning_ward() -> None:
    own = for_viewer(ITEM, Viewer("ben-thanh", frozenset({"26740"})))
    assert own["reporter"] == {"name": "Nguyễn Văn An", "phone": "0903123456"}
    assert "masked" not in own
    other = for_viewer(ITEM, Viewer("xuan-hoa", frozenset({"27142"})))
    assert other["reporter"] == {"name": MASKED_NAME, "phone": "********56"}
    assert other["masked"] is True
    assert "0903 123 456" not in other["description"]
    assert ITEM["reporter"]["name"] == "Nguyễn Văn An"  # the stored item is untouched


def test_mask_reporter_keeps_missing_fields_missing() -> None:
    assert mask_reporter(None) is None
    assert mask_reporter({"name": None, "phone": "+84 903 123 456"}) == {"name": None, "phone": "*********56"}


def test_config_reads_token_file_and_viewers(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file\n")
    config = load_config(load_settings({
        "IOC_DASHBOARD_VIEWERS": str(good_file(tmp_path)),
        "IOC_DASHBOARD_TOKEN_FILE": str(token),
        "IOC_WORKER_METRICS_URLS": "http://127.0.0.1:1/metrics, http://127.0.0.1:2/metrics",
    }), "danang")
    assert config.province_code == "48"
    assert config.access.viewer_for_token("from-file") == Viewer("operator")
    assert config.worker_metrics_urls == ("http://127.0.0.1:1/metrics", "http://127.0.0.1:2/metrics")
    assert config.metrics_source == "workers"


def test_config_refuses_empty_token_file_and_unknown_city(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("  \n")
    with pytest.raises(SettingsError, match="is empty"):  # the settings read the file, for every command
        load_config(load_settings({"IOC_DASHBOARD_TOKEN_FILE": str(tmp_path / "token")}), None)
    with pytest.raises(ValueError, match="unknown city 'hue'"):
        load_config(Settings(), "hue")


def test_the_dashboards_own_variables_come_through_the_settings(tmp_path: Path) -> None:

    env = {"IOC_DASHBOARD_HOST": "0.0.0.0", "IOC_DASHBOARD_TRUST_FORWARDED_PROTO": "1",
           "IOC_DASHBOARD_VIEWERS": str(good_file(tmp_path))}
    config = load_config(load_settings(env), "hcmc")
    assert (config.host, config.trust_forwarded_proto) == ("0.0.0.0", True)
    assert config.access.viewer_for_token(WARD_TOKEN) == Viewer("ben-thanh-duty", frozenset({"26740"}))
    assert load_settings({"IOC_DASHBOARD_TRUST_FORWARDED_PROTO": "0"}).dashboard_trust_forwarded_proto is False
    assert load_config(load_settings({}), "hcmc").host == "127.0.0.1"
