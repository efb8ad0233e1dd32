"""Agreement of docketwatch's PACER parsers with juriscraper's parse, over a whole folder.

    python bench/agreement.py                        # ../shared/fixtures/pacer beside the repository
    python bench/agreement.py --folder PATH          # any folder of input / *.expected.json pairs
                                                     # listed in a MANIFEST.tsv

Run by hand: the tests never read ../shared (they run the same comparison over the copies
in tests/fixtures/pacer). Prints the table per file and per kind and layout; a file
docketwatch refuses counts as every expected entry missed, unless juriscraper found no
docket in it either. Exits 1 when any entry disagrees without a documented reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.agreement import ORACLE_EXCEPTIONS, agreement_table  # noqa: E402


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--folder", type=Path, default=ROOT.parent / "shared" / "fixtures" / "pacer")
    args.add_argument("--show", type=int, default=20, help="disagreements to print")
    options = args.parse_args()
    if not (options.folder / "MANIFEST.tsv").is_file():
        sys.exit(f"{options.folder}: no MANIFEST.tsv here; name the folder with --folder")

    result = agreement_table(options.folder, strict=False)
    print(f"Agreement with juriscraper's parse over {options.folder}\n")
    print("\n".join(result.lines))
    for name, error in result.refusals:
        print(f"\nREFUSED {name}: {error}")
    for name, exp, ours in result.disagreements[: options.show]:
        print(f"\nDISAGREEMENT in {name}:\n  juriscraper: {exp}\n  docketwatch: {ours}")
    for key in sorted(result.used_exceptions):
        print(f"\nDocumented oracle error {key}: {ORACLE_EXCEPTIONS[key]}")
    sys.exit(1 if result.disagreements or result.refusals else 0)


if __name__ == "__main__":
    main()
