"""Faust wiring: every worker follows ``ioc.config.rules`` with a :class:`RulesFollower` task.

A task (not an agent) because an agent shares the app's consumer group, and the topic has one
partition: only one worker would see each version. The follower reads without a group.
"""

from __future__ import annotations

from collections.abc import Iterable

from yarl import URL

from streams import kafka_clients
from streams.app import app
from streams.rules_live.active import active_ruleset
from streams.rules_live.follow import RulesFollower


def bootstrap_of(brokers: Iterable[URL]) -> str:
    """``host:port,...`` of Faust broker URLs (``kafka://host:port``)."""
    return ",".join(f"{url.host}:{url.port or 9092}" for url in brokers)


@app.task
async def follow_rules() -> None:
    active_ruleset()  # load the initial version (and publish ioc_rules_info) before the first batch
    # same brokers and credentials as the worker's own clients, translated by Faust
    await RulesFollower(bootstrap_of(app.conf.broker), client_options=kafka_clients.aiokafka_of_faust_app(app)).run()
