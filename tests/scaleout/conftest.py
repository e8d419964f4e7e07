"""A broker of their own for the scale-out tests: six partitions per intake topic (an even split for
two and three workers) and no other test's traffic in the outcome topics."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.scaleout import prepare_topics
from streams.settings import Settings

PARTITIONS = 6


@pytest.fixture(scope="module")
def scale_settings(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from streams.embedded.stack import EmbeddedStack

    run_dir = tmp_path_factory.mktemp("scaleout-stack")
    with EmbeddedStack(Settings(data_dir=data_dir, partitions=PARTITIONS), run_dir=run_dir) as stack:
        settings = dataclasses.replace(stack.settings, data_dir=data_dir)
        prepare_topics(settings, "79")  # the simulator drives HCMC
        yield settings
