"""A longer kill soak: SIGKILLs of a real `docketwatch run` at seeded random moments
while filings keep arriving, delivered by email (two recipients) and to Markdown.

    python bench/kills.py [--kills 200] [--seed 8] [--database sqlite|postgresql]

(from the repository root, with the test extras installed: pytest-httpserver and
aiosmtpd serve the fake CourtListener and the SMTP server.) The harness is the one
tests/test_kills.py uses (tests/kill_harness.py). Prints kills in all and by phase,
restarts, entries published and delivered per recipient, lost, duplicates, resends
under the same Message-ID, and the first-poll latency after a restart; exits 1 when a
filing was lost or duplicated or a restart was slow.

PostgreSQL: a new database on the server of $DOCKETWATCH_TEST_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), dropped afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url  # noqa: E402

from tests.conftest import POSTGRES_DEFAULT  # noqa: E402
from tests.kill_harness import soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # aiosmtpd's warnings about AUTH without TLS on loopback
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per fake request otherwise
    # aiosmtpd logs two warnings per session (AUTH without TLS on loopback, its own
    # deprecated login_data): 2 lines a mail, most of the output otherwise.
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="docketwatch-kills-") as workdir:
        if args.database == "sqlite":
            figures = soak(Path(workdir), f"sqlite:///{workdir}/dw.db", args.kills, args.seed, "sqlite")
        else:
            server = create_engine(make_url(os.environ.get("DOCKETWATCH_TEST_POSTGRES", POSTGRES_DEFAULT)),
                                   isolation_level="AUTOCOMMIT")
            name = f"docketwatch_kills_{uuid.uuid4().hex[:12]}"
            with server.connect() as db:
                db.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                url = server.url.set(database=name).render_as_string(hide_password=False)
                figures = soak(Path(workdir), url, args.kills, args.seed, "postgresql")
            finally:
                with server.connect() as db:
                    db.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
                server.dispose()
    print(figures.summary())
    return 1 if figures.aborted or figures.lost() or figures.unexpected() or figures.duplicates() else 0


if __name__ == "__main__":
    sys.exit(main())
