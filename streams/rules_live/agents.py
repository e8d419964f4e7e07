"""Faust wiring: every worker follows ``ioc.config.rules`` with a :class:`RulesFollower` task and
``ioc.config.silences`` with a :class:`SilencesFollower` task.

A task (not an agent) because an agent shares the app's consumer group, and the topic has one
partition: only one worker would see each version. The follower reads without a group.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from yarl import URL

from streams import kafka_clients, metrics
from streams.app import app
from streams.rules_live.follow import RulesFollower
from streams.rules_live.silences import SilencesFollower


def bootstrap_of(brokers: Iterable[URL]) -> str:
    """``host:port,...`` of Faust broker URLs (``kafka://host:port``)."""
    return ",".join(f"{url.host}:{url.port or 9092}" for url in brokers)


@app.task
async def follow_rules() -> None:
    # into the worker's rules (loaded, and ioc_rules_info published, when the services were built);
    # same brokers and credentials as the worker's own clients, translated by Faust
    await RulesFollower(app.services.rules, bootstrap_of(app.conf.broker),
                        client_options=kafka_clients.aiokafka_of_faust_app(app)).run()


@app.task
async def follow_silences() -> None:
    book = app.services.silences
    await SilencesFollower(book, bootstrap_of(app.conf.broker),
                           client_options=kafka_clients.aiokafka_of_faust_app(app)).run()


@app.timer(interval=5.0)
async def count_silences() -> None:
    metrics.silences_active.set(app.services.silences.count(time.time()))
