"""The CloudEvents Kafka protocol binding: the record headers every output message carries (plain
data: the pure router attaches them to the messages it decides on).

ioc-router publishes CloudEvents in *structured* mode (the whole event, attributes and ``data``, is
the JSON value). The binding (cloudevents/spec ``kafka-protocol-binding.md``, section 3.1) tells a
receiver which mode a record is in by its ``content-type`` header: ``application/cloudevents+json``
means structured; a record without it is read as *binary* mode (attributes expected in ``ce_*``
headers), so an SDK in another language would misread every message. The same header tuple is
shared by every message (no allocation per message on the hot path).
"""

from __future__ import annotations

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
CLOUDEVENTS_HEADERS: list[tuple[str, bytes]] = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
