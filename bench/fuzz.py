"""Fuzz docketwatch's parsers longer than CI does, and print the figures.

    python bench/fuzz.py --count 200000 [--seed 1] [--kind acms_json ...]

Runs the seeded mutator of tests/fuzz.py (the same one tests/test_fuzz.py runs 20,000
times per kind) over real PACER files and the CourtListener feed. Prints, per parser
kind: mutations, parsed, refused (ParseError; ValueError for the CourtListener feed),
other exceptions (bugs), the slowest input and the time taken. Exits 1 when any input
raised something else or took a second or more (MAX_SECONDS: the speed bound; the test
allows 5 s, a hang guard, as it runs beside other work); the first such inputs are
written to bench/fuzz-failures/ so they can be replayed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import fuzz  # noqa: E402

MAX_SECONDS = 1.0
KEEP_FAILURES = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="mutations per kind (default 100,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (CI uses 0)")
    parser.add_argument("--kind", action="append", choices=fuzz.KINDS, help="only this kind (repeatable)")
    args = parser.parse_args()

    print(f"{'kind':<20} {'mutations':>10} {'parsed':>9} {'refused':>9} {'bugs':>5} {'slowest':>9} {'time':>8}")
    bad = False
    for kind in args.kind or fuzz.KINDS:
        began = time.perf_counter()
        result = fuzz.run(kind, args.count, seed=args.seed)
        elapsed = time.perf_counter() - began
        print(f"{kind:<20} {result.count:>10,} {result.parsed:>9,} {result.refused:>9,} {len(result.failures):>5} "
              f"{result.slowest * 1000:>7.1f}ms {elapsed:>7.1f}s")
        slow = [(result.slowest_input, None)] if result.slowest >= MAX_SECONDS else []
        for i, (data, error) in enumerate((result.failures + slow)[:KEEP_FAILURES]):
            bad = True
            out = ROOT / "bench" / "fuzz-failures" / f"{kind}-seed{args.seed}-{i}.bin"
            out.parent.mkdir(exist_ok=True)
            out.write_bytes(data)
            print(f"  {out.relative_to(ROOT)}: {type(error).__name__ if error else 'slow'}: {error or ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
