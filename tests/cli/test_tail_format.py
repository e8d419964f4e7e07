"""``ioc tail`` lines for people and for scripts (pure; the broker run is in test_ward_topic_clients)."""

from __future__ import annotations

from types import SimpleNamespace

from cli.tail import as_json, describe


def test_describe_names_type_id_and_the_gist() -> None:
    routed = {"specversion": "1.0", "type": "vn.ioc.event.routed", "id": "e-1", "iocpriority": "P1",
              "data": {"event": {"kind": "fire"}}}
    assert describe(routed) == "vn.ioc.event.routed e-1 fire P1"
    notice = {"specversion": "1.0", "type": "vn.ioc.incident.opened", "id": "n-1",
              "data": {"id": "inc-1", "status": "routed", "priority": "P2"}}
    assert describe(notice) == "vn.ioc.incident.opened n-1 inc-1 routed P2"
    assert describe([1, 2]) == "[1, 2]"


def test_as_json_keeps_headers_and_undecodable_values() -> None:
    record = SimpleNamespace(topic="t", partition=0, offset=5, key=b"27139", value=b"\xff\x00",
                             headers=[("content-type", b"application/cloudevents+json")])
    body = as_json(record)
    assert body["key"] == "27139" and body["headers"] == {"content-type": "application/cloudevents+json"}
    assert body["value_base64"] == "/wA=" and "value" not in body
