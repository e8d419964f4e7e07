"""Extensions of Faust (faust-streaming) that make a worker fast and keep its commits safe.

One job per module, each naming the Faust internals it relies on:

- :mod:`streams.faust_ext.settings`: the app settings that make a worker fast (and select
  :class:`~streams.faust_ext.monitor.LeanMonitor`, :mod:`streams.faust_ext.monitor`);
- :mod:`streams.faust_ext.consumer`: the consumer that delivers fetched messages without a Task
  per message and hands every message of an agent's input to a running stream across rebalances;
- :mod:`streams.faust_ext.worker`: the worker class (no DEBUG root logger, settled gc).

The at-least-once guarantee of the pipeline's outputs lives in :mod:`streams.delivery`
(``forward_batches``). Use them together (profiles and measured gains: docs/performance.md)::

    from streams.delivery import forward_batches
    from streams.faust_ext.consumer import use_fast_delivery_consumer
    from streams.faust_ext.settings import app_settings
    from streams.faust_ext.worker import Worker

    app = configure(settings, **app_settings(settings))   # 1. settings + lean Monitor
    use_fast_delivery_consumer(app)                       # 2. fast, safe message delivery
    ...
    @app.agent(intake_topic)
    async def route(stream):                              # 3. batches, acked after delivery
        await forward_batches(stream, handle_batch)
    ...
    Worker(app, loglevel="warn").execute_from_commandline()  # 4. no DEBUG root logger

The exact faust-streaming, mode-streaming and aiokafka versions these extensions were written
against are pinned in pyproject.toml; tests/streams/faust_ext/test_faust_internals.py fails, naming
the attribute or signature that changed, when an upgrade moves one of the internals used here.
"""
