"""The API fuzzed from its own OpenAPI document (schemathesis): schema-valid and schema-invalid
requests to every operation, POSTs half of the time with a valid key and a real service code so
they reach the decoder and the broker. Acceptance: at least 2,000 requests, no server error, every
response in the declared status codes, content type and schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routers.categories import REPORT_CATEGORIES
from tests.streams.open311.conftest import FUZZ_KEY

pytestmark = [pytest.mark.integration]

DOCUMENT = Path(__file__).resolve().parents[3] / "streams" / "open311" / "openapi.json"
POSITIVE_PER_OPERATION = 400
NEGATIVE_PER_OPERATION = 80


def test_the_served_document_is_the_one_in_the_repo(open311_api: str) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{open311_api}/openapi.json", timeout=10) as response:
        assert json.loads(response.read()) == json.loads(DOCUMENT.read_text("utf-8"))


def test_schemathesis_finds_no_server_error_and_no_schema_break(open311_api: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
    root = open311_api.removesuffix("/open311/v2")
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text("utf-8")))
    sent: dict[str, int] = {}
    created: list[str] = []

    def run(operation: Any, mode: Any, examples: int) -> None:
        @given(case=operation.as_strategy(generation_mode=mode), code=st.sampled_from(sorted(REPORT_CATEGORIES)))
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def one(case: Any, code: str) -> None:
            n = sum(sent.values())
            if n % 4:  # three in four: the default jurisdiction, not an unknown city refused first
                for part in (case.query, case.body):
                    if isinstance(part, dict):
                        part.pop("jurisdiction_id", None)
            if operation.method.upper() == "POST" and isinstance(case.body, dict) and n % 4:
                case.body["api_key"] = FUZZ_KEY  # and a real service code half of the time
                if n % 2:
                    case.body["service_code"] = code
                if n % 8 == 1:  # and a place, so that the rest of the generated form decides
                    case.body.update(lat=10.78, long=106.69)
            if n % 2 and isinstance(case.path_parameters, dict):  # half of the time a resource that exists
                if "service_code" in case.path_parameters:
                    case.path_parameters["service_code"] = code
                if "service_request_id" in case.path_parameters and created:
                    case.path_parameters["service_request_id"] = created[n % len(created)]
            response = case.call_and_validate(base_url=root, checks=checks)
            if operation.method.upper() == "POST" and response.status_code == 200:
                created.append(response.json()[0]["service_request_id"])
            key = f"{operation.label} {response.status_code}"
            sent[key] = sent.get(key, 0) + 1

        one()

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    for operation in operations:
        run(operation, GenerationMode.POSITIVE, POSITIVE_PER_OPERATION)
        if operation.path != "/open311/discovery.json":  # no parameters, no body: nothing to make invalid
            run(operation, GenerationMode.NEGATIVE, NEGATIVE_PER_OPERATION)
    total = sum(sent.values())
    print(f"schemathesis: {total} requests; by operation and status: {dict(sorted(sent.items()))}")
    assert total >= 2000, sent
    assert not [k for k in sent if int(k.rsplit(" ", 1)[1]) >= 500], sent
    assert sent.get("POST /open311/v2/requests.json 200", 0) >= 50  # fuzzed reports reached the decoder and the broker
    assert sent.get("GET /open311/v2/requests/{service_request_id}.json 200", 0) >= 50  # and were read back
    assert sent.get("GET /open311/v2/services/{service_code}.json 200", 0) >= 50
