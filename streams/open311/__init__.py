"""Open311 GeoReport v2 over HTTP (``ioc api``) and results back to the portal (``ioc deliver``).

``server.py`` the aiohttp application; ``store.py`` the requests the API accepted (Redis);
``tracker.py`` follows what the pipeline made of them; ``delivery.py`` POSTs each result on
``ioc.out.results`` to the portal. Decisions live in :mod:`routers.open311`.
"""
