"""Secrets from files (``IOC_<NAME>_FILE``), as Kubernetes mounts them, and exactly_once refused
on the embedded broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboards.config import load_config
from streams.app import EMBEDDED_CLUSTER_ID, refuse_exactly_once_without_transactions
from streams.settings import SECRETS, Settings, SettingsError, load_settings

SASL = {"IOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "IOC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "IOC_KAFKA_SASL_USERNAME": "ioc-router"}


def test_each_secret_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("pw-from-file\n")
    (tmp_path / "url").write_text("rediss://:r3dis@redis.ioc-hcmc.svc:6380/0?ssl_cert_reqs=required\n")
    (tmp_path / "token").write_text("tok-from-file")
    (tmp_path / "mqtt").write_text("mqtt-from-file\n")
    s = load_settings({**SASL, "IOC_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "password"),
                       "IOC_REDIS_URL_FILE": str(tmp_path / "url"), "IOC_DASHBOARD_TOKEN_FILE": str(tmp_path / "token"),
                       "IOC_MQTT_PASSWORD_FILE": str(tmp_path / "mqtt")})
    assert s.kafka_sasl_password == "pw-from-file"  # the trailing newline of `echo > file` is dropped
    assert s.redis_url == "rediss://:r3dis@redis.ioc-hcmc.svc:6380/0?ssl_cert_reqs=required"
    assert s.dashboard_token == "tok-from-file"
    assert s.mqtt_password == "mqtt-from-file"
    assert not s.embedded_redis
    assert set(SECRETS) == {"kafka_sasl_password", "redis_url", "dashboard_token", "api_keys", "portal_secret",
                            "mqtt_password"}


def test_open311_keys_and_the_portal_secret_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("portal1022:portal:k-0123456789abcdef\nzalo:zalo:k-fedcba9876543210\n")
    (tmp_path / "hmac").write_text("portal-hmac-secret\n")
    s = load_settings({"IOC_API_KEYS_FILE": str(tmp_path / "keys"), "IOC_PORTAL_SECRET_FILE": str(tmp_path / "hmac")})
    assert s.portal_secret == "portal-hmac-secret"
    from routers.open311.clients import parse_api_keys

    assert [c.name for c in parse_api_keys(s.api_keys).clients] == ["portal1022", "zalo"]


def test_the_dashboard_requires_the_token_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("operator-token\n")
    env = {"IOC_DASHBOARD_TOKEN_FILE": str(tmp_path / "token")}
    config = load_config(load_settings(env), "hcmc")
    assert config.access.required
    assert config.access.operator_token == "operator-token"


def test_a_value_given_directly_wins_over_its_file(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("redis://from-file:6379/0")
    s = load_settings({"IOC_REDIS_URL": "redis://direct:6379/0", "IOC_REDIS_URL_FILE": str(tmp_path / "url")})
    assert s.redis_url == "redis://direct:6379/0"


def test_a_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-password"
    with pytest.raises(SettingsError) as caught:
        load_settings({**SASL, "IOC_KAFKA_SASL_PASSWORD_FILE": str(missing)})
    assert caught.value.code == "secret_file_unreadable"
    assert str(caught.value) == f"secret_file_unreadable: IOC_KAFKA_SASL_PASSWORD_FILE={missing}: No such file or directory"


def test_an_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    with pytest.raises(SettingsError, match=r"secret_file_empty: IOC_DASHBOARD_TOKEN_FILE=.*token is empty"):
        load_settings({"IOC_DASHBOARD_TOKEN_FILE": str(tmp_path / "token")})


def test_secret_files_in_the_toml_config(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("pw-toml")
    config = tmp_path / "ioc.toml"
    config.write_text(f'kafka_security_protocol = "SASL_SSL"\nkafka_sasl_mechanism = "SCRAM-SHA-512"\n'
                      f'kafka_sasl_username = "ioc-router"\nkafka_sasl_password_file = "{tmp_path / "password"}"\n')
    assert load_settings({"IOC_CONFIG": str(config)}).kafka_sasl_password == "pw-toml"


def test_a_command_reports_a_missing_secret_file_without_a_traceback(tmp_path: Path) -> None:
    from cli import main

    env = {**SASL, "IOC_KAFKA_BOOTSTRAP": "127.0.0.1:1", "IOC_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "nope")}
    result = CliRunner().invoke(main, ["record", "--topic", "ioc.routed", "--since", "1m", "--out", str(tmp_path / "x.jsonl")],
                                env=env)
    assert result.exit_code == 1
    assert "Error: secret_file_unreadable: IOC_KAFKA_SASL_PASSWORD_FILE=" in result.output
    assert "Traceback" not in result.output


def test_exactly_once_is_refused_without_a_broker_and_on_tansu() -> None:
    with pytest.raises(SettingsError, match="exactly_once_unsupported: .*embedded broker"):
        refuse_exactly_once_without_transactions(Settings(processing_guarantee="exactly_once"))
    tansu = Settings(kafka_bootstrap="127.0.0.1:9", processing_guarantee="exactly_once")
    with pytest.raises(SettingsError, match="IOC_PROCESSING_GUARANTEE=at_least_once"):
        refuse_exactly_once_without_transactions(tansu, cluster_id=lambda s: EMBEDDED_CLUSTER_ID)
    refuse_exactly_once_without_transactions(tansu, cluster_id=lambda s: "MkU3OEVBNTcwNTJENDM2Qg")  # Apache Kafka: fine
    # at_least_once never asks the broker
    refuse_exactly_once_without_transactions(Settings(kafka_bootstrap="127.0.0.1:9"), cluster_id=lambda s: 1 / 0)


@pytest.mark.integration
def test_a_worker_on_the_embedded_broker_refuses_exactly_once(embedded_stack, data_dir: Path) -> None:
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": embedded_stack.settings.kafka_bootstrap,
           "IOC_REDIS_URL": embedded_stack.settings.redis_url, "IOC_DATA_DIR": str(data_dir),
           "IOC_PROCESSING_GUARANTEE": "exactly_once"}
    done = subprocess.run([sys.executable, "-m", "cli", "worker"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "Error: exactly_once_unsupported" in done.stderr and "Tansu" in done.stderr
