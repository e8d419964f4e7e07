"""``python -m fuzz``: run every fuzz target for ``--runs`` inputs and report what happened.

Each target runs in its own process (libFuzzer exits the process when done), from a fresh
temporary corpus seeded with valid examples, so the repository is never written to. Crash
reproducers (libFuzzer artifacts) are kept under ``--artifacts`` and named in the report.
Exit status 0 only if every target executed all its inputs with no crash.

    python -m fuzz --runs 100000          # the acceptance run
    python -m fuzz --runs 3000 --json     # the smoke run `make test` does
    python -m fuzz --target status        # one target
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import orjson

from fuzz.seeds import SEEDS

TARGETS = ("intake", "address", "status")
MAX_LEN = {"intake": 4096, "address": 700, "status": 4096}
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


@dataclass
class TargetReport:
    name: str
    requested: int
    executed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    crashes: int = 0
    artifacts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exit_code: int | None = None
    tail: str = ""  # the end of libFuzzer's output when something went wrong

    @property
    def ok(self) -> bool:
        return self.crashes == 0 and self.exit_code == 0 and self.executed >= self.requested

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.name, "requested": self.requested, "executed": self.executed, "crashes": self.crashes,
            "accepted": sum(v for k, v in self.outcomes.items() if k.startswith("accepted")),
            "rejected": sum(v for k, v in self.outcomes.items() if k.startswith("rejected")),
            "outcomes": dict(sorted(self.outcomes.items())), "seconds": round(self.seconds, 1),
            "exec_per_s": round(self.executed / self.seconds) if self.seconds else 0,
            "exit_code": self.exit_code, "artifacts": self.artifacts, "ok": self.ok,
            **({"tail": self.tail} if not self.ok else {}),
        }


def _read_stats(path: Path) -> dict[str, object]:
    try:
        return dict(orjson.loads(path.read_bytes()))
    except (OSError, orjson.JSONDecodeError):
        return {}


def run_target(name: str, runs: int, seed: int, artifacts: Path, timeout_s: float, show_progress: bool,
               extra_env: dict[str, str] | None = None) -> TargetReport:
    report = TargetReport(name, runs)
    artifacts.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"ioc-fuzz-{name}-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for n, example in enumerate(SEEDS[name]()):
            (corpus / f"seed-{n:03d}").write_bytes(example)
        stats = Path(tmp) / "stats.json"
        log = Path(tmp) / "libfuzzer.log"
        argv = [sys.executable, "-m", f"fuzz.targets.{name}", f"-runs={runs}", f"-seed={seed}",
                f"-max_len={MAX_LEN[name]}", "-timeout=10", "-rss_limit_mb=3072", "-print_final_stats=1",
                f"-artifact_prefix={artifacts}/{name}-", str(corpus)]
        env = dict(os.environ, IOC_FUZZ_STATS=str(stats), PYTHONHASHSEED="0", **(extra_env or {}))
        started = time.monotonic()
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                       cwd=Path(__file__).resolve().parent.parent)
            with click.progressbar(length=runs, label=f"fuzz {name:8s}", file=sys.stderr, show_pos=True,
                                   hidden=not show_progress) as bar:
                shown = 0
                while process.poll() is None:
                    if time.monotonic() - started > timeout_s:
                        process.kill()
                        break
                    executed = int(_read_stats(stats).get("executed", 0))  # type: ignore[call-overload]
                    bar.update(executed - shown)
                    shown = executed
                    time.sleep(0.5)
            process.wait()
        report.seconds = time.monotonic() - started
        report.exit_code = process.returncode
        text = log.read_text("utf-8", "replace")
        final = _read_stats(stats)
        report.outcomes = dict(final.get("outcomes", {}))  # type: ignore[call-overload]
        executed = _EXECUTED.search(text)  # libFuzzer's own count, printed at the end (also after a crash)
        report.executed = int(executed.group(1)) if executed else int(final.get("executed", 0))  # type: ignore[call-overload]
        report.artifacts = sorted(str(p) for p in artifacts.glob(f"{name}-*"))
        crashed = "Uncaught Python exception" in text or "ERROR: libFuzzer" in text or "==ERROR" in text
        report.crashes = max(len(report.artifacts), 1 if crashed or process.returncode != 0 else 0)
        if not report.ok:
            report.tail = text[-3000:]
    return report


@click.command()
@click.option("--runs", type=click.IntRange(min=1), default=100_000, show_default=True, help="Inputs per target.")
@click.option("--target", "targets", type=click.Choice(TARGETS), multiple=True, help="Only these targets (repeatable).")
@click.option("--seed", type=int, default=1, show_default=True, help="libFuzzer's random seed (reproducible runs).")
@click.option("--artifacts", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where crash reproducers go (default: a new temporary directory).")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Hard limit per target, in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def main(runs: int, targets: tuple[str, ...], seed: int, artifacts: Path | None, timeout: float, as_json: bool) -> None:
    """Fuzz the intake decoders, the address parser and the status decoder; zero crashes expected."""
    artifacts = artifacts or Path(tempfile.mkdtemp(prefix="ioc-fuzz-artifacts-"))
    reports = [run_target(name, runs, seed, artifacts, timeout, show_progress=not as_json)
               for name in (targets or TARGETS)]
    ok = all(r.ok for r in reports)
    if as_json:
        click.echo(orjson.dumps({"ok": ok, "runs": runs, "seed": seed, "artifacts": str(artifacts),
                                 "targets": [r.to_json() for r in reports]}).decode())
    else:
        click.echo(f"{'target':8s} {'executed':>9s} {'accepted':>9s} {'rejected':>9s} {'crashes':>7s} {'exec/s':>7s}")
        for r in reports:
            j = r.to_json()
            click.echo(f"{r.name:8s} {r.executed:9d} {j['accepted']:9d} {j['rejected']:9d} {r.crashes:7d} "
                       f"{j['exec_per_s']:7d}")
        for r in reports:
            top = sorted(r.outcomes.items(), key=lambda kv: -kv[1])[:8]
            click.echo(f"{r.name}: " + ", ".join(f"{k}={v}" for k, v in top))
            if not r.ok:
                click.echo(f"{r.name}: FAILED (exit {r.exit_code}); artifacts: {r.artifacts or 'none'}\n{r.tail}")
        click.echo(f"total executed {sum(r.executed for r in reports)}, crashes {sum(r.crashes for r in reports)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
