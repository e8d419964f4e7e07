"""Security settings -> client keyword arguments, checked against the real client libraries.

No SASL broker runs here, so these tests check the derived configuration: the exact keyword
arguments, that every key is one the client accepts, that aiokafka's constructors accept them
(they validate protocol/mechanism/ssl_context combinations), and that Faust translates our
``broker_credentials`` into the same aiokafka arguments we give our own aiokafka clients.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams import kafka_clients
from streams.app import faust_settings
from streams.settings import Settings, SettingsError, load_settings

BOOTSTRAP = "ioc-kafka-kafka-bootstrap:9093"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real self-signed CA certificate (PEM), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=ioc-test-cluster-ca", "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt")],
                   check=True, capture_output=True)
    return folder / "ca.crt"


@pytest.fixture()
def production_env(tmp_path: Path, ca_file: Path) -> dict[str, str]:
    """What the k8s ConfigMap + mounted Secrets give a worker."""
    (tmp_path / "password").write_text("sCrAm-pa55\n")
    return {
        "IOC_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "IOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "IOC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "IOC_KAFKA_SASL_USERNAME": "ioc-router",
        "IOC_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "password"),
        "IOC_KAFKA_SSL_CAFILE": str(ca_file),
    }


def _assert_accepted_by_kafka_python(options: dict[str, object]) -> None:
    for client in (KafkaAdminClient, KafkaProducer, KafkaConsumer):
        unknown = set(options) - set(client.DEFAULT_CONFIG)
        assert not unknown, f"{client.__name__} does not take {sorted(unknown)}"


def _assert_verifying_context(context: object, ca_subject: str | None) -> None:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    if ca_subject is not None:
        subjects = [dict(pair[0] for pair in cert["subject"]).get("commonName") for cert in context.get_ca_certs()]
        assert subjects == [ca_subject], "only the configured CA is trusted"


# -- PLAINTEXT (embedded broker, compose) -------------------------------------------------------------


def test_plaintext_gives_only_the_bootstrap() -> None:
    settings = load_settings({"IOC_KAFKA_BOOTSTRAP": "k1:9092,k2:9092"})
    assert kafka_clients.kafka_python(settings, client_id="x") == {
        "bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT", "client_id": "x"}
    assert kafka_clients.aiokafka(settings) == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}
    assert kafka_clients.faust_options(settings) == {"broker": "kafka://k1:9092;kafka://k2:9092",
                                                     "broker_credentials": None}
    assert credentials_to_aiokafka_auth(None) == {"security_protocol": "PLAINTEXT"}
    assert faust_settings(settings)["processing_guarantee"] == "at_least_once"


def test_a_faust_app_reads_both_brokers_back() -> None:
    app = faust.App("ioc-test-brokers", **kafka_clients.faust_options(Settings(kafka_bootstrap="k1:9092,k2:9093")))
    assert kafka_clients.aiokafka_of_faust_app(app) == {"bootstrap_servers": ["k1:9092", "k2:9093"],
                                                        "security_protocol": "PLAINTEXT"}


# -- SASL_SSL + SCRAM-SHA-512 with a CA file (Kubernetes) ---------------------------------------------


def test_sasl_ssl_scram_for_kafka_python(production_env: dict[str, str], ca_file: Path) -> None:
    options = kafka_clients.kafka_python(load_settings(production_env))
    assert options == {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ioc-router",
        "sasl_plain_password": "sCrAm-pa55",
        "ssl_cafile": str(ca_file),
        "ssl_check_hostname": True,
    }
    _assert_accepted_by_kafka_python(options)


def test_sasl_ssl_scram_for_aiokafka(production_env: dict[str, str]) -> None:
    options = kafka_clients.aiokafka(load_settings(production_env), client_id="ioc-test")
    context = options.pop("ssl_context")
    assert options == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "ioc-router", "sasl_plain_password": "sCrAm-pa55", "client_id": "ioc-test"}
    _assert_verifying_context(context, "ioc-test-cluster-ca")

    async def construct() -> None:  # aiokafka validates the combination in its constructors (no connection yet)
        AIOKafkaProducer(**options, ssl_context=context)
        AIOKafkaConsumer(**options, ssl_context=context)

    asyncio.run(construct())


def test_sasl_ssl_scram_for_faust_matches_our_aiokafka(production_env: dict[str, str]) -> None:
    settings = load_settings(production_env)
    options = kafka_clients.faust_options(settings)
    credentials = options["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert options["broker"] == f"kafka://{BOOTSTRAP}"
    # what Faust's aiokafka driver will pass to its consumer and producer
    derived = credentials_to_aiokafka_auth(credentials)
    ours = kafka_clients.aiokafka(settings)
    _assert_verifying_context(derived.pop("ssl_context"), "ioc-test-cluster-ca")
    ours.pop("ssl_context")
    ours.pop("bootstrap_servers")
    assert derived == ours
    # and the side clients inside a worker (rules follower) get the same through the App
    app = faust.App("ioc-test-sasl", **options)
    side = kafka_clients.aiokafka_of_faust_app(app)
    assert side["security_protocol"] == "SASL_SSL" and side["sasl_mechanism"] == "SCRAM-SHA-512"
    assert side["sasl_plain_username"] == "ioc-router" and side["sasl_plain_password"] == "sCrAm-pa55"


def test_ssl_without_sasl_and_system_cas() -> None:
    settings = Settings(kafka_bootstrap=BOOTSTRAP, kafka_security_protocol="SSL")
    assert kafka_clients.kafka_python(settings) == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "SSL",
                                                    "ssl_check_hostname": True}
    credentials = kafka_clients.faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SSL"
    _assert_verifying_context(kafka_clients.aiokafka(settings)["ssl_context"], None)


def test_sasl_plaintext_has_no_tls() -> None:
    settings = Settings(kafka_bootstrap=BOOTSTRAP, kafka_security_protocol="SASL_PLAINTEXT",
                        kafka_sasl_mechanism="SCRAM-SHA-256", kafka_sasl_username="u", kafka_sasl_password="p")
    assert "ssl_context" not in kafka_clients.aiokafka(settings)
    assert credentials_to_aiokafka_auth(kafka_clients.faust_credentials(settings)) == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "u",
        "sasl_plain_password": "p", "ssl_context": None}


def test_a_bootstrap_string_takes_security_from_the_environment(production_env: dict[str, str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in production_env.items():
        monkeypatch.setenv(key, value)
    options = kafka_clients.kafka_python("other-bootstrap:9093")
    assert options["bootstrap_servers"] == "other-bootstrap:9093"
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_plain_password"] == "sCrAm-pa55"


def test_the_password_stays_out_of_repr() -> None:
    conn = kafka_clients.KafkaConnection(BOOTSTRAP, "SASL_SSL", "SCRAM-SHA-512", "ioc-router", "sCrAm-pa55")
    assert "sCrAm-pa55" not in repr(conn)


# -- refusing what cannot work -------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "code"), [
    ({"IOC_KAFKA_SECURITY_PROTOCOL": "sasl_ssl"}, "bad_security_protocol"),
    ({"IOC_KAFKA_SASL_MECHANISM": "GSSAPI"}, "bad_sasl_mechanism"),
    ({"IOC_KAFKA_SASL_USERNAME": ""}, "missing_sasl_username"),
    ({"IOC_KAFKA_SASL_PASSWORD_FILE": ""}, "missing_sasl_password"),
    ({"IOC_KAFKA_SSL_CAFILE": "/nonexistent/ca.crt"}, "cafile_missing"),
    ({"IOC_PROCESSING_GUARANTEE": "exactly-once"}, "bad_processing_guarantee"),
])
def test_inconsistent_security_settings_are_refused(production_env: dict[str, str], change: dict[str, str],
                                                    code: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**production_env, **change})
    assert caught.value.code == code
    assert next(iter(change)) in str(caught.value)  # the message names the variable to fix


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="missing_sasl_password"):
        kafka_clients.kafka_python(Settings(kafka_bootstrap=BOOTSTRAP, kafka_security_protocol="SASL_SSL",
                                            kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="u"))
    with pytest.raises(SettingsError, match="no_bootstrap"):
        kafka_clients.aiokafka(Settings())
