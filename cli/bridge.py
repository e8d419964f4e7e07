"""``ioc bridge mqtt``: carry Frigate payloads and sensor readings from MQTT to the intake topics."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
import orjson

from streams.settings import load_settings


@click.group()
def bridge() -> None:
    """Bridges from other transports into the intake topics."""


@bridge.command("mqtt")
@click.option("--broker", default=None, help="mqtt://HOST:PORT (default IOC_MQTT_BROKER).")
@click.option("--client-id", default=None, help="MQTT client id (default IOC_MQTT_CLIENT_ID); keep it fixed.")
@click.option("--web-port", type=int, default=None, help="Port of /metrics (default IOC_BRIDGE_WEB_PORT; 0 = free port).")
@click.option("--json", "as_json", is_flag=True, help="Print the start line as one JSON object (metrics URL, topics).")
def mqtt_bridge(broker: str | None, client_id: str | None, web_port: int | None, as_json: bool) -> None:
    """Subscribe (QoS 1, persistent session) to IOC_MQTT_FRIGATE_TOPICS and IOC_MQTT_SENSOR_TOPICS
    and produce to ioc.in.camera / ioc.in.sensors. Each MQTT message is acknowledged only after
    Kafka acknowledged it; Frigate messages the mapping (IOC_FRIGATE_MAPPING_FILE) maps to nothing
    go to ioc.filtered. Reconnects with backoff; stops cleanly on SIGTERM or Ctrl-C."""
    from prometheus_client import start_http_server

    from routers.exceptions import RulesError
    from streams.bridge import metrics
    from streams.bridge.mqtt import options_from, run_bridge

    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.UsageError("IOC_KAFKA_BOOTSTRAP is not set (or use `ioc up`, which starts a broker and the bridge)")
    try:
        options = options_from(settings, broker, client_id)
    except (ValueError, RulesError) as exc:
        raise click.ClickException(str(exc)) from None
    port = settings.bridge_web_port if web_port is None else web_port
    server, _thread = start_http_server(port, addr=settings.worker_web_host, registry=metrics.REGISTRY)
    url = f"http://{settings.worker_web_host}:{server.server_port}/metrics"
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    start = {"metrics": url, "broker": f"mqtt://{options.host}:{options.port}", "client_id": options.client_id,
             "frigate_topics": list(options.frigate_topics),
             "sensor_topics": [p.pattern for p in options.sensor_patterns], "mapping": options.mapping.source}
    if as_json:
        click.echo(orjson.dumps(start).decode())
    else:
        click.echo(f"bridge: metrics on {url}", err=True)
        click.echo(f"bridge: {start['broker']} ({', '.join(options.frigate_topics)}; sensors "
                   f"{', '.join(start['sensor_topics']) or 'none'}) -> {settings.kafka_bootstrap}, mapping {options.mapping.source}",
                   err=True)
    try:
        run_bridge(settings, options, stop)
    finally:
        server.shutdown()
