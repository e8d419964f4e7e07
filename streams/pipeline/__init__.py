"""The intake pipeline on Faust (agents.py): place, read the rule state, route the batch with the pure
:func:`routers.route.route_batch`, write the state, count (tally.py), send. Its services are the
worker's (:mod:`streams.services`)."""
