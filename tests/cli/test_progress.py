"""Progress for people goes to stderr (cli/progress.py): stdout, and so --json, stays the result only."""

from __future__ import annotations

import pytest

from cli.progress import progress_printer


def test_bars_and_stage_lines_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_printer({"checking features": 3, "recording t": None}) as progress:
        progress("reading files", 1)
        progress("reading files", 1)  # the same stage: one line only
        for _ in range(3):
            progress("checking features", 1)
        progress("recording t", 7)
        progress("compiling", 0)
    out, err = capsys.readouterr()
    assert out == ""
    # not a terminal: click writes each bar's label once, instead of drawing it
    assert err.splitlines() == ["  reading files ...", "checking features", "recording t", "  compiling ..."]
