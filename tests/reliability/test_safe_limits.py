"""Safe limits: size caps on messages and files, YAML and JSON loaded safely, no pickle of
untrusted data, and every regular expression in the product code bounded in time on
pathological input."""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from routers import limits
from routers.exceptions import BoundaryError, Rejected, RulesError
from routers.ingest import decode

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("routers", "streams", "dashboards")


def product_files() -> Iterator[Path]:
    for package in PRODUCT:
        yield from sorted((REPO / package).rglob("*.py"))


# -- messages -------------------------------------------------------------------------------------
def test_intake_messages_over_the_cap_are_dead_lettered_as_too_large() -> None:
    big = orjson.dumps({"id": "x", "category": "other", "description": "x" * 300_000})
    with pytest.raises(Rejected) as caught:
        decode("ioc.in.reports", big)
    assert caught.value.reason == "too_large"


def test_status_messages_over_the_cap_are_rejected_before_parsing() -> None:
    from streams.lifecycle.contract import MAX_STATUS_BYTES, parse_status_update

    body = {"update_id": "u", "incident_id": "i", "ward": "26734", "status": "acknowledged",
            "note": "x" * (MAX_STATUS_BYTES + 1)}
    started = time.perf_counter()
    with pytest.raises(Rejected) as caught:
        parse_status_update(orjson.dumps(body))
    assert caught.value.reason == "bad_update" and "cap" in caught.value.detail
    assert time.perf_counter() - started < 0.5


# -- files ----------------------------------------------------------------------------------------
def _sparse(path: Path, size: int) -> Path:
    """A file that *says* it is ``size`` bytes without using the disk (the caps look before reading)."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def test_a_boundary_file_over_the_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    from routers.boundaries.sources import read_features

    path = _sparse(tmp_path / "huge.geojson", limits.BOUNDARY_FILE_BYTES + 1)
    with pytest.raises(BoundaryError, match="cap for boundary files"):
        read_features(str(path))


def test_a_gzip_bomb_boundary_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from routers.boundaries import sources

    # 8 MiB of zeros compress to ~8 KB; with the cap lowered to 1 MiB this is a bomb
    bomb = tmp_path / "bomb.geojson.gz"
    bomb.write_bytes(gzip.compress(b"0" * (8 * limits.MiB)))
    assert bomb.stat().st_size < 64 * 1024
    monkeypatch.setattr(limits, "BOUNDARY_JSON_BYTES", limits.MiB)
    with pytest.raises(BoundaryError, match="decompresses to more than"):
        sources.read_features(str(bomb))


def test_gunzip_keeps_multi_member_files_and_rejects_broken_ones() -> None:
    data = gzip.compress(b'{"a":') + gzip.compress(b"1}")
    assert limits.gunzip(data, 100, "two members") == b'{"a":1}'
    with pytest.raises(EOFError):
        limits.gunzip(gzip.compress(b"x" * 1000)[:-12], 10_000, "cut short")


def test_a_rules_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    from streams.rules_live.active import initial_ruleset

    path = _sparse(tmp_path / "rules.yaml", limits.RULES_FILE_BYTES + 1)
    with pytest.raises(limits.TooLarge, match="cap for rules files"):
        initial_ruleset(path)


def test_the_rules_cli_refuses_an_oversized_file_with_a_message(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    path = _sparse(tmp_path / "rules.yaml", limits.RULES_FILE_BYTES + 1)
    result = CliRunner().invoke(main, ["rules", "show", "--rules", str(path)])
    assert result.exit_code != 0
    assert "cap for rules files" in result.output


def test_a_devices_csv_over_the_cap_is_refused(tmp_path: Path) -> None:
    from streams.devices import DeviceFileError, read_devices_csv

    path = _sparse(tmp_path / "devices.csv", limits.DEVICES_FILE_BYTES + 1)
    with pytest.raises(DeviceFileError, match="cap for devices CSV files"):
        list(read_devices_csv(path))


def test_reading_with_a_cap_stops_at_the_cap_even_when_the_size_lies(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    def feed() -> None:
        with open(fifo, "wb") as handle:
            handle.write(b"y" * 5000)

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(limits.TooLarge):
        limits.read_bytes(fifo, 1000, "test")
    writer.join(5)


# -- YAML, JSON, pickle ---------------------------------------------------------------------------
UNSAFE_CALLS = re.compile(
    r"\byaml\.(load|load_all|unsafe_load|full_load)\(|Loader=yaml\.(Loader|FullLoader|UnsafeLoader)|"
    r"\bpickle\.|\bcPickle\b|\bmarshal\.loads?\(|\bshelve\.|\bjsonpickle\b|\bdill\.|allow_pickle=True|"
    r"\beval\(|\bexec\(|value_serializer=[\"']pickle"
)


def test_no_unsafe_deserialization_in_product_code() -> None:
    found = []
    for path in product_files():
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if UNSAFE_CALLS.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert found == []


def test_yaml_tags_that_run_code_are_refused(tmp_path: Path) -> None:
    from routers.rules import load_ruleset

    marker = tmp_path / "pwned"
    text = f"version: '1'\nroute: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(RulesError):
        load_ruleset(text, "evil.yaml")
    assert not marker.exists()


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    from routers.rules import load_ruleset

    lines = ["version: '1'", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 9)]
    lines.append("route: *a8")
    started = time.perf_counter()
    with pytest.raises(RulesError, match="YAML nodes"):
        load_ruleset("\n".join(lines), "bomb.yaml")
    assert time.perf_counter() - started < 60  # capped at MAX_NODES: bounded, not 10**9 nodes


def test_deeply_nested_json_is_rejected_not_a_recursion_crash() -> None:
    from streams.lifecycle.contract import parse_status_update

    deep = b"[" * 100_000 + b"]" * 100_000
    for call in (lambda: decode("ioc.in.reports", deep[: 200_000]), lambda: parse_status_update(b"[" * 50_000)):
        with pytest.raises(Rejected):
            call()


# -- regular expressions --------------------------------------------------------------------------
_RE_FUNCS = {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"}
_SCANNING = {"search", "sub", "subn", "split", "findall", "finditer"}


def _methods_used(text: str, name: str | None) -> set[str]:
    """How the file uses the compiled pattern bound to ``name`` (all scanning methods when unknown)."""
    used = set(re.findall(rf"\b{re.escape(name)}\.(\w+)\(", text)) & _RE_FUNCS if name else set()
    return used or {"search", "sub"}


def product_regexes() -> list[tuple[str, str, int, frozenset[str]]]:
    """Every literal pattern passed to ``re.*`` in the product code, plus JSON Schema ``pattern``s:
    ``(where, pattern, flags, methods the code calls on it)``."""
    found: list[tuple[str, str, int, frozenset[str]]] = []
    for path in product_files():
        text = path.read_text("utf-8")
        tree = ast.parse(text)
        bound: dict[int, str] = {}  # id(call node) -> the name it is assigned to
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if isinstance(targets[0], ast.Name):
                    bound[id(node.value)] = targets[0].id
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RE_FUNCS
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args):
                first = node.args[0]
                flags = re.IGNORECASE if any("IGNORECASE" in ast.unparse(k) for k in node.keywords) else 0
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                if node.func.attr == "compile":
                    methods = frozenset(_methods_used(text, bound.get(id(node))))
                else:
                    methods = frozenset({node.func.attr})
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append((where, first.value, flags, methods))
                elif isinstance(first, ast.JoinedStr):  # f-strings: the rule's digit-count check
                    pattern = ast.unparse(first)[2:-1].replace("{{", "{").replace("}}", "}")
                    found.append((where, re.sub(r"\{digits\}", "5", pattern), 0, methods))
        # tables of (pattern, replacement) pairs compiled in a loop (the address abbreviations): .sub
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and len(node.elts) == 2 and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                pattern = node.elts[0].value
                if pattern.startswith(r"\b"):
                    found.append((f"{path.relative_to(REPO)}:{node.lineno}", pattern, re.IGNORECASE,
                                  frozenset({"sub"})))
    for schema in sorted((REPO / "streams" / "contracts").glob("*.json")):
        def walk(value: object, where: str) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key == "pattern" and isinstance(item, str):
                        found.append((where, item, 0, frozenset({"search"})))  # jsonschema uses re.search
                    walk(item, where)
            elif isinstance(value, list):
                for item in value:
                    walk(item, where)
        walk(json.loads(schema.read_text("utf-8")), str(schema.relative_to(REPO)))
    return found


N = 50_000
PATHOLOGICAL = [
    "a" * N, "0" * N, " " * N, "," * N, "." * N, "(" * N, "\\" * N, '"' * N, "ệ" * N, "\x00" * N,
    "0 " * (N // 2), "0." * (N // 2), "+84" * (N // 3), '"name": "' * (N // 9), "P." * (N // 2), "Q1 " * (N // 3),
    "a" * N + "!", "9" * N + "x", "-0" * (N // 2) + "a",
]


def test_the_regex_scan_finds_the_product_patterns() -> None:
    regexes = product_regexes()
    where = {w.split(":")[0] for w, _p, _f, _m in regexes}
    assert {"routers/privacy.py", "routers/locate/address.py", "routers/incidents/updates.py"} <= where
    assert len(regexes) >= 15
    assert any(m == {"fullmatch"} for _w, _p, _f, m in regexes)  # usage is found, not assumed


def _run(compiled: re.Pattern[str], method: str, text: str) -> None:
    if method in ("sub", "subn"):
        getattr(compiled, method)("", text)
    elif method in ("findall", "split"):
        getattr(compiled, method)(text)
    elif method == "finditer":
        for _ in compiled.finditer(text):
            pass
    else:
        getattr(compiled, method)(text)


@pytest.mark.parametrize(("where", "pattern", "flags", "methods"), product_regexes(), ids=lambda v: str(v)[:40])
def test_every_product_regex_is_linear_on_pathological_input(where: str, pattern: str, flags: int,
                                                              methods: frozenset[str]) -> None:
    """Each pattern, called the way the product calls it, on 50k-character adversarial strings."""
    compiled = re.compile(pattern, flags)
    worst, worst_text = 0.0, ""
    for text in PATHOLOGICAL:
        for method in methods:
            started = time.perf_counter()
            _run(compiled, method, text)
            took = time.perf_counter() - started
            if took > worst:
                worst, worst_text = took, f"{method} on {text[:12]!r}..."
    # linear patterns take milliseconds on 50k characters; a backtracking one takes minutes
    assert worst < 2.0, f"{where}: /{pattern}/ took {worst:.2f}s ({worst_text})"


def test_the_privacy_masks_are_linear_on_long_input() -> None:
    from routers.privacy import mask_personal_data

    started = time.perf_counter()
    for text in PATHOLOGICAL:
        mask_personal_data(text)
    assert time.perf_counter() - started < 5.0
