"""The fault soak, longer: more cycles and more cases than the CI test, same figures.

    python bench/soak.py [--cycles 1000] [--cases 8] [--seed N] [--scenario feed|api|all]

Runs tests/test_faults.py's harness (loopback CourtListener and court RSS servers with
seeded random faults, real SQLite, the real diff engine) in a temporary folder and
prints, per scenario, the requests, faults by kind, entries, events and every
invariant's count of violations. Exit status 1 when any invariant was violated.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_faults import SCENARIOS, missing_coverage, run_soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000, help="poll cycles per scenario (default 1000)")
    parser.add_argument("--cases", type=int, default=8, help="watched cases (default 8)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: a random one, printed)")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    failed = False
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            report = run_soak(SCENARIOS[name], args.cycles, seed, Path(folder), cases=args.cases)
        print(report.explain())
        for gap in missing_coverage(report):
            print(f"not exercised: {gap}")
        print()
        failed |= bool(report.failures())
    print(f"reproduce: python bench/soak.py --cycles {args.cycles} --cases {args.cases} --seed {seed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
