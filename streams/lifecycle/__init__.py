"""Incident lifecycle on Faust: the agents and tables (``agents``), the Redis serving index
(``serving``), the HTTP queries (``queries``), the status contract (``contract``) and the clock."""
