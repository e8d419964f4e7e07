"""The lifecycle worker tests get a broker and Redis of their own.

On the session stack the shared `ioc worker` (role ``all``) runs the lifecycle too: it would also
act on these tests' routed events and status updates and publish its own incidents, dead letters and
escalations next to the test worker's. ``kafka_bootstrap`` and ``redis_url`` are overridden here for
this folder; the rainstorm end-to-end test uses the session stack and its worker on purpose.
"""

from __future__ import annotations

import pytest

from tests.support import embedded_stack_in


@pytest.fixture(scope="package")
def lifecycle_stack(tmp_path_factory: pytest.TempPathFactory):
    with embedded_stack_in(tmp_path_factory.mktemp("lifecycle-stack")) as stack:
        yield stack


@pytest.fixture(scope="package")
def kafka_bootstrap(lifecycle_stack) -> str:
    return lifecycle_stack.settings.kafka_bootstrap


@pytest.fixture(scope="package")
def redis_url(lifecycle_stack) -> str:
    return lifecycle_stack.settings.redis_url
