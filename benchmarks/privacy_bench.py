"""Cost of masking phone numbers in a report's free text, per event, on one core.

``python -m benchmarks privacy`` (part of ``make bench``). The texts are the simulator's 1022
descriptions (``streams/simulator/texts.py``); a share of them get a phone number typed in, in the
held-out formats of ``tests/data/phone_formats.txt``, as callers do. Measured side by side in one
run, median of repeats:

* ``regex``: the masker before issue 21, one Vietnamese-number pattern (kept here only as the
  baseline; it let ``(097) 888-1234``, ``097/888/1234``, ``+1 415 555 0199`` and full-width digits
  through);
* ``library``: :func:`routers.privacy.mask_phone`, the digit pre-filter, then libphonenumber's
  matcher on the texts that pass it;
* ``library, no pre-filter``: the matcher on every text (what the pre-filter saves).
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from phonenumbers import PhoneNumberMatcher

from routers import privacy
from streams.simulator.texts import DESCRIPTIONS

EVENTS = 5_000
REPEATS = 5
SHARES = (0.0, 0.05, 0.25)  # share of descriptions with a phone number typed in
HELD_OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "phone_formats.txt"

# The pattern routers/privacy.py used before the library (baseline only).
_OLD_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")


def old_mask(text: str) -> str:
    return _OLD_PHONE.sub(lambda m: m.group(0)[:3] + "*" * max(len(m.group(0)) - 5, 0) + m.group(0)[-2:], text)


def no_prefilter(text: str) -> str:
    spans = [(m.start, m.end) for m in PhoneNumberMatcher(text, privacy.REGION, leniency=privacy.LENIENCY)]
    return privacy._splice(text, spans)


def phones() -> list[str]:
    lines = (line.strip() for line in HELD_OUT.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def make_texts(count: int, share: float, seed: int = 21) -> list[str]:
    rng = random.Random(seed)
    pool = [text for texts in DESCRIPTIONS.values() for text in texts]
    numbers = phones()
    return [rng.choice(pool) + (f", gọi {rng.choice(numbers)}" if rng.random() < share else "") for _ in range(count)]


def per_event_us(maskers: Mapping[str, Callable[[str], str]], texts: list[str]) -> dict[str, float]:
    """Median µs per text of each masker; the maskers take turns within each repeat, so a busy
    machine slows them alike."""
    runs: dict[str, list[float]] = {name: [] for name in maskers}
    for _ in range(REPEATS):
        for name, mask in maskers.items():
            started = time.perf_counter()
            for text in texts:
                mask(text)
            runs[name].append((time.perf_counter() - started) / len(texts) * 1e6)
    return {name: statistics.median(times) for name, times in runs.items()}


def leaked(mask: Callable[[str], str], texts: list[str]) -> int:
    """Texts with a phone number in which more than the last two digits of it survive."""
    count = 0
    for text in texts:
        head, sep, number = text.rpartition(", gọi ")
        if sep:
            digits = "".join(c for c in mask(text)[len(head) + len(sep):] if c.isdecimal())
            count += len(digits) > 2
    return count


def main() -> None:
    print(f"masking phone numbers in descriptions: µs per event, median of {REPEATS} x {EVENTS} events")
    print(f"{'phones in':>10} {'regex (old)':>12} {'library':>9} {'no pre-filter':>14} {'library/regex':>14} "
          f"{'leaks old':>10} {'leaks new':>10}")
    maskers = {"old": old_mask, "new": privacy.mask_phone, "full": no_prefilter}
    for share in SHARES:
        texts = make_texts(EVENTS, share)
        us = per_event_us(maskers, texts)
        print(f"{share:>10.0%} {us['old']:>12.2f} {us['new']:>9.2f} {us['full']:>14.2f} {us['new'] / us['old']:>13.1f}x "
              f"{leaked(old_mask, texts):>10} {leaked(privacy.mask_phone, texts):>10}")
    paths = per_event_us({"matcher": privacy.mask_phone}, [f"Cây đổ chắn đường, gọi {p}" for p in phones()] * 20)
    prefilter = per_event_us({"pre-filter": privacy.mask_phone}, make_texts(1000, 0.0))
    print(f"one description with a phone number (the matcher's path): {paths['matcher']:.1f} µs; "
          f"without one (the pre-filter's path): {prefilter['pre-filter']:.2f} µs")


if __name__ == "__main__":
    main()
