"""Open311 GeoReport v2, the pure part: services from the 1022 categories, a POST's form -> the
``ioc.in.reports`` contract, the incident state -> a GeoReport service request, errors, the rate
limit, and the portal delivery's signature and retry schedule. No HTTP server, no Kafka here
(``streams.open311`` wires them)."""
