"""`docketwatch run` takes up an edited watchlist without a restart (the process is the
point): a case added is polled, a case paused is dropped, and a file that no longer
loads is said once while the cases already watched go on being polled."""

from __future__ import annotations

from tests.conftest import KADREY_CASE, SUNEDISON_CASE, run_cli, runs, start_run, terminate, wait_for, write_config

KADREY_JOB = "courtlistener:cand:3:23-cv-03417"


def test_an_edited_watchlist_is_taken_up_and_a_broken_one_changes_nothing(tmp_path, fake_cl, court_feed):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, cases=SUNEDISON_CASE)
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n'
                      '\n[schedule]\ninterval = "1s"\njitter = "0s"\nreload_check = "1s"\n')
    url, log = f"sqlite:///{tmp_path / 'dw.db'}", tmp_path / "run.log"
    proc = start_run(config, log=log)
    try:
        wait_for(lambda: runs(url, "pacer_rss", ok=True) >= 1, proc)
        assert runs(url, "courtlistener") == 0

        with config.open("a") as f:  # the user adds a case by hand
            f.write(KADREY_CASE)
        wait_for(lambda: runs(url, "courtlistener", ok=True) >= 1, proc)
        assert f"reloaded: 2 poll jobs (added: {KADREY_JOB}; removed: none)" in log.read_text()

        paused = run_cli(config, "pause", "kadrey")  # the command line edits the file
        assert paused.returncode == 0, paused.stderr
        wait_for(lambda: f"removed: {KADREY_JOB})" in log.read_text(), proc)
        # Polls run one at a time: once the other case is polled again, none of Kadrey's is running.
        sunedison = runs(url, "pacer_rss")
        wait_for(lambda: runs(url, "pacer_rss") > sunedison, proc)
        polled = runs(url, "courtlistener")

        config.write_text(config.read_text() + '\n[retention]\ndays = "soon"\n')  # a typo
        wait_for(lambda: "was edited but cannot be used" in log.read_text(), proc)
        sunedison = runs(url, "pacer_rss", ok=True)
        wait_for(lambda: runs(url, "pacer_rss", ok=True) >= sunedison + 2, proc)  # still polled
    finally:
        code, _, _ = terminate(proc)
    text = log.read_text()
    assert code == 0, text
    assert text.count("was edited but cannot be used") == 1 and "retention.days" in text  # said once, with the key
    assert runs(url, "courtlistener") == polled  # paused: never polled again
    assert "test-token" not in text
