"""Coverage-guided fuzzing (atheris / libFuzzer) of everything that reads untrusted bytes.

Targets (``fuzz/targets/``), each a module libFuzzer drives in its own process:

* ``intake``: :func:`routers.ingest.decode` on the three intake topics (raw bytes, and JSON objects
  built field by field from the contract's field names so the fuzzer gets past the JSON parser);
* ``address``: :func:`routers.locate.address.check_address` + :func:`resolve_address`;
* ``status``: :func:`streams.lifecycle.contract.parse_status_update` (the ``ioc.status`` decoder).

The contract each target checks: every input is either accepted (a domain object with sane
fields) or rejected with :class:`routers.exceptions.Rejected` carrying a short reason code. Any
other exception is a crash. ``python -m fuzz --runs 100000`` runs each target and reports counts.
"""
