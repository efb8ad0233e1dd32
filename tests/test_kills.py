"""The kill test: SIGKILLs of a real `docketwatch run` at seeded random moments while
filings keep arriving, delivered by email (two recipients) and to a Markdown folder.

After the last kill a clean `run --once` drains the outbox. Then: no filing lost (each is
stored, and reached each recipient and the folder), none delivered twice (except the
same message sent again under its own Message-ID, or the same file rewritten, after a
kill between delivery and bookkeeping: counted and printed), and every restart polled
within seconds. The harness is tests/kill_harness.py; bench/kills.py runs longer soaks.

The suite runs one round of the seven moments on each database (asserted: each moment
aimed at; the poll, delivery and between phases each hit);
`DOCKETWATCH_FULL_SOAKS=1 pytest tests/test_kills.py -s` runs the full size (50 kills on
SQLite, 20 on PostgreSQL).
"""

from __future__ import annotations

import pytest

from tests.conftest import soak_size
from tests.kill_harness import FIRST_POLL_WITHIN, MOMENTS, soak

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS",
                                        "ignore:Session.login_data is deprecated")

# About a second a kill. Every len(MOMENTS) kills aim at each moment once.
KILLS = {"sqlite": soak_size(len(MOMENTS), 50), "postgresql": soak_size(len(MOMENTS), 20)}
SEED = 8


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_sigkill_at_random_moments_loses_and_duplicates_nothing_and_restarts_at_once(database_url, tmp_path):
    kind = database_url.partition(":")[0].partition("+")[0]
    figures = soak(tmp_path, database_url, KILLS[kind], SEED, kind)
    print(figures.summary())

    assert figures.aborted is None, (
        f"the kills stopped early: {figures.aborted}"
        + (f"; `run` refused to start {len(figures.refused)} times: {figures.refused[-1]}" if figures.refused else ""))
    assert len(figures.kills) == KILLS[kind]
    assert max(figures.first_poll) <= FIRST_POLL_WITHIN
    assert set(MOMENTS) <= {k.moment for k in figures.kills}
    # Judged from outside: a kill aimed at "digest" may land once the delivery is done.
    assert {"poll", "delivery", "between"} <= {k.phase for k in figures.kills}
    assert len(figures.published) >= KILLS[kind]
    assert figures.lost() == {}, "filings lost (not stored, or never delivered to someone)"
    assert figures.unexpected() == {}, "delivered entries that were never published after the baseline"
    assert figures.duplicates() == {}, "entries delivered in two different messages or files"
