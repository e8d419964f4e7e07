"""Run a Faust worker with only the lifecycle agents (and the worker web pages), configured from
IOC_* variables like ``ioc worker``. Used by the lifecycle integration tests as a child process,
so they do not depend on the intake pipeline's services."""

from __future__ import annotations

import faulthandler
import signal
import sys

import faust

from streams.app import configure
from streams.settings import load_settings


def main() -> None:
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every thread's stack into the log
    settings = load_settings()
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    # A new test app starts at the end of ioc.routed: traffic other tests left on the session broker is
    # not its business (the harness then waits until one of its probe events has been processed).
    app = configure(settings, autodiscover=False, broker_session_timeout=10.0, broker_heartbeat_interval=1.0,
                    broker_rebalance_timeout=10.0, consumer_auto_offset_reset="latest")
    # as `ioc worker`: the consumer that reads each changelog's true end on Tansu (a batch's table
    # writes travel as one multi-record batch, whose end Tansu's ListOffsets reports short)
    from streams.faust_ext.consumer import use_fast_delivery_consumer

    use_fast_delivery_consumer(app)
    import streams.lifecycle.agents  # noqa: F401  # (explicit: autodiscovery is off)
    from streams.lifecycle import actors

    actors.subscribe(settings)
    import streams.web.pages  # noqa: F401
    from streams.services import attach, build_services

    attach(app, build_services(settings, role="lifecycle"))  # as `ioc worker --role lifecycle`

    sys.argv = [sys.argv[0]]
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
