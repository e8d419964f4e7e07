"""`ioc silence add` validates before it needs a broker: the rules' matcher messages, exit 1."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOC_KAFKA_BOOTSTRAP", raising=False)


def test_a_bad_matcher_is_refused_with_the_rules_message() -> None:
    done = CliRunner().invoke(main, ["silence", "add", "--match", "category=fier", "--for", "2h", "--author", "an",
                                     "--comment", "x", "--json"])
    assert done.exit_code == 1
    assert orjson.loads(done.stdout) == {"ok": False, "problems": ["unknown category 'fier' (did you mean 'fire'?)"]}


def test_for_or_until_exactly_once() -> None:
    both = CliRunner().invoke(main, ["silence", "add", "--match", "device=cam-1", "--for", "2h", "--until",
                                     "2030-01-01T00:00", "--author", "an", "--comment", "x"])
    assert both.exit_code == 2 and "exactly one of --for DURATION or --until TIME" in both.output
    past = CliRunner().invoke(main, ["silence", "add", "--match", "device=cam-1", "--until", "2020-01-01T00:00",
                                     "--author", "an", "--comment", "x"])
    assert past.exit_code == 2 and "would already be over" in past.output


def test_a_valid_silence_needs_the_broker() -> None:
    done = CliRunner().invoke(main, ["silence", "add", "--match", "device=cam-1", "--for", "2h", "--author", "an",
                                     "--comment", "repair"])
    assert done.exit_code == 1 and "IOC_KAFKA_BOOTSTRAP is not set" in done.output
