"""One place that turns the settings into Kafka client keyword arguments.

Three client libraries talk to the brokers: kafka-python (topic admin, the simulator, command-line
readers and writers), aiokafka (the rules follower) and Faust (the workers, on aiokafka). Each spells
the same security settings differently; this module is the only translation::

    from streams import kafka_clients

    KafkaProducer(**kafka_clients.kafka_python(settings, acks="all"))
    AIOKafkaConsumer(**kafka_clients.aiokafka(settings, group_id=None))
    app.config_from_object(kafka_clients.faust_options(settings))   # broker + broker_credentials

| setting (``IOC_*``)          | kafka-python                          | aiokafka / Faust                      |
| ---------------------------- | ------------------------------------- | ------------------------------------- |
| ``KAFKA_SECURITY_PROTOCOL``  | ``security_protocol``                 | ``security_protocol`` / credentials class |
| ``KAFKA_SASL_MECHANISM``     | ``sasl_mechanism``                    | ``sasl_mechanism`` / ``mechanism``    |
| ``KAFKA_SASL_USERNAME``      | ``sasl_plain_username``               | ``sasl_plain_username`` / ``username`` |
| ``KAFKA_SASL_PASSWORD(_FILE)`` | ``sasl_plain_password``             | ``sasl_plain_password`` / ``password`` |
| ``KAFKA_SSL_CAFILE``         | ``ssl_cafile`` + ``ssl_check_hostname`` | ``ssl_context`` (verifies cert and hostname) |

(the ``sasl_plain_*`` names are the libraries' names for SCRAM credentials too).

Functions that only know a bootstrap string (``ioc rules apply`` passes ``settings.kafka_bootstrap``)
take the security settings of this process's environment: a command run inside the deployment
authenticates like the workers do.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.settings import Settings, SettingsError, check, load_settings


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate; the password is kept out of ``repr``."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def hosts(self) -> list[str]:
        return [host.strip() for host in self.bootstrap.split(",") if host.strip()]


KafkaTarget = str | Settings | KafkaConnection


def connection(target: KafkaTarget) -> KafkaConnection:
    """The connection for ``target``: settings, a connection, or a bootstrap string (whose security
    settings then come from this process's ``IOC_*`` environment)."""
    if isinstance(target, KafkaConnection):
        return target
    if isinstance(target, str):
        return _from_settings(load_settings(), target)
    return _from_settings(check(target), target.kafka_bootstrap)


def _from_settings(settings: Settings, bootstrap: str | None) -> KafkaConnection:
    if not bootstrap:
        raise SettingsError("no_bootstrap", "IOC_KAFKA_BOOTSTRAP is not set (the embedded broker sets it when it starts)")
    check(settings)
    return KafkaConnection(
        bootstrap=bootstrap,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism if settings.kafka_security_protocol.startswith("SASL_") else None,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=settings.kafka_sasl_password,
        ssl_cafile=settings.kafka_ssl_cafile,
    )


def ssl_context(target: KafkaTarget) -> ssl.SSLContext | None:
    """A client TLS context that verifies the broker certificate and host name (None without TLS).

    With ``IOC_KAFKA_SSL_CAFILE`` only that CA bundle is trusted; without it, the system's CAs."""
    conn = connection(target)
    if not conn.tls:
        return None
    context = ssl.create_default_context(cafile=str(conn.ssl_cafile) if conn.ssl_cafile else None)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def kafka_python(target: KafkaTarget, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for kafka-python's ``KafkaAdminClient``, ``KafkaProducer`` and ``KafkaConsumer``
    (all three take the same connection options), plus ``extra``."""
    conn = connection(target)
    options: dict[str, Any] = {"bootstrap_servers": conn.bootstrap, "security_protocol": conn.security_protocol}
    if conn.sasl:
        options.update(sasl_mechanism=conn.sasl_mechanism, sasl_plain_username=conn.sasl_username,
                       sasl_plain_password=conn.sasl_password)
    if conn.tls:
        options["ssl_check_hostname"] = True
        if conn.ssl_cafile is not None:
            options["ssl_cafile"] = str(conn.ssl_cafile)
    options.update(extra)
    return options


def aiokafka(target: KafkaTarget, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for aiokafka's ``AIOKafkaConsumer`` / ``AIOKafkaProducer``, plus ``extra``.

    aiokafka takes TLS as an ``ssl_context`` only (no CA file option)."""
    conn = connection(target)
    options: dict[str, Any] = {"bootstrap_servers": conn.bootstrap, "security_protocol": conn.security_protocol}
    if conn.sasl:
        options.update(sasl_mechanism=conn.sasl_mechanism, sasl_plain_username=conn.sasl_username,
                       sasl_plain_password=conn.sasl_password)
    if conn.tls:
        options["ssl_context"] = ssl_context(conn)
    options.update(extra)
    return options


def faust_broker(target: KafkaTarget) -> str:
    """Faust's broker URL list: ``kafka://h1:9092;kafka://h2:9092``."""
    return ";".join(f"kafka://{host}" for host in connection(target).hosts)


def faust_credentials(target: KafkaTarget) -> Any:
    """Faust ``broker_credentials``: None (PLAINTEXT), ``SSLCredentials`` or ``SASLCredentials``
    (SASL_SSL when it carries an ssl_context, SASL_PLAINTEXT otherwise)."""
    import faust  # the workers' library: imported only by those who configure Faust

    conn = connection(target)
    if conn.sasl:
        return faust.SASLCredentials(username=conn.sasl_username, password=conn.sasl_password,
                                     mechanism=conn.sasl_mechanism, ssl_context=ssl_context(conn))
    if conn.tls:
        return faust.SSLCredentials(ssl_context(conn))
    return None


def faust_options(target: KafkaTarget) -> dict[str, Any]:
    """Faust App settings for the broker: ``broker`` and ``broker_credentials``."""
    return {"broker": faust_broker(target), "broker_credentials": faust_credentials(target)}


def aiokafka_of_faust_app(app: Any, **extra: Any) -> dict[str, Any]:
    """aiokafka keyword arguments for a side client inside a worker, from the App's own broker
    settings, translated by Faust itself: the side client authenticates exactly as the worker does."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list

    options: dict[str, Any] = {"bootstrap_servers": server_list(app.conf.broker, 9092)}
    options.update(credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context))
    options.update(extra)
    return options


def cluster_id(target: KafkaTarget, timeout_s: float = 15.0) -> str:
    """The cluster id the brokers announce (DescribeCluster), e.g. to recognise the embedded broker."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka_python(target, client_id="ioc-cluster-id", request_timeout_ms=int(timeout_s * 1000)))
    try:
        return str(admin.describe_cluster()["cluster_id"])
    finally:
        admin.close()
