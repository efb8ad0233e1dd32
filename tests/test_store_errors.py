"""Database faults end in one line naming the database (password hidden) and what to
do: exit 2 when the configuration must change, 3 when an operation failed. Nothing
stored is lost, and under `run` a failing job is one log line."""

from __future__ import annotations

import logging
import os
import resource
import signal
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.ops import service
from docketwatch.pipeline import digests
from tests.conftest import KADREY_ID, SUNEDISON_CASE, Ran, dump_db, new_postgres_database, run_cli, write_config
from tests.servers import free_port


def one_line(ran: Ran) -> str:
    """The single line a failure prints (stdout and stderr together); no traceback."""
    output = ran.stdout + ran.stderr
    assert "Traceback" not in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def test_an_sqlite_folder_that_cannot_be_created_is_a_configuration_error(tmp_path):
    (tmp_path / "plain-file").write_text("")
    database = tmp_path / "plain-file" / "dw.db"
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url=f"sqlite:///{database}"), "status")
    assert result.returncode == 2
    line = one_line(result)
    assert f"database sqlite:///{database}: cannot create the folder {database.parent}" in line
    assert "set [database] url" in line


def test_a_password_with_an_at_sign_says_to_percent_encode_it_and_shows_no_password(tmp_path):
    url = "postgresql+psycopg://docketwatch:pa@ss-w0rd@127.0.0.1:5432/docketwatch"
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url=url), "check")
    assert result.returncode == 2
    line = one_line(result)
    assert "percent-encode" in line and "%40" in line
    assert "pa@ss" not in line and "ss-w0rd" not in line


def test_a_password_read_as_a_port_is_one_line_that_shows_none_of_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DW_TEST_PGPW", "p@ss:Hunter2Secret")
    url = "postgresql+psycopg://nosuch:${DW_TEST_PGPW}@127.0.0.1:5432/postgres"
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url=url), "status")
    assert result.returncode == 2
    line = one_line(result)
    assert "percent-encode" in line and "Hunter2" not in line and "p@ss" not in line


def test_a_malformed_database_url_is_a_configuration_error(tmp_path):
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url="not a url"), "status")
    assert result.returncode == 2 and "[database] url is not a database URL" in one_line(result)


@pytest.mark.parametrize("option, said", [("timeout=abc", "could not convert string to float: 'abc'"),
                                          ("check_same_thread=maybe", "String is not true/false: 'maybe'")])
def test_an_sqlite_url_option_the_driver_cannot_read_is_a_configuration_error(tmp_path, option, said):
    url = f"sqlite:///{tmp_path / 'dw.db'}?{option}"
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url=url), "status")
    assert result.returncode == 2
    assert one_line(result) == f"docketwatch: database {url}: [database] url cannot be used: {said}"


def test_a_postgresql_url_option_the_server_does_not_know_is_a_configuration_error(tmp_path, postgres_server):
    url = postgres_server.url.set(query={"bogusopt": "1"}).render_as_string(hide_password=False)
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url=url), "status")
    assert result.returncode == 2
    assert one_line(result).endswith(': [database] url has an option the database driver refuses (invalid '
                                     'connection option "bogusopt"); correct or remove it')


def test_an_unreachable_postgresql_is_one_line_with_the_password_hidden(tmp_path):
    url = f"postgresql+psycopg://docketwatch:hunter2-secret@127.0.0.1:{free_port()}/docketwatch"
    result = run_cli(write_config(tmp_path, "http://127.0.0.1:9", database_url=url), "status")
    assert result.returncode == 3
    line = one_line(result)
    assert line.startswith("docketwatch: database postgresql+psycopg://docketwatch:***@127.0.0.1:")
    assert "cannot connect" in line and "hunter2" not in line


def baselined(tmp_path, fake_cl, database_url: str | None = None):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, database_url=database_url)
    assert run_cli(config, "check").returncode == 0
    return config


def ro_folder(tmp_path):
    """A folder for the configuration that opens the database read-only (SQLite's own
    read-only mode: as root, file permissions would not stop a write)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    return folder


def test_a_read_only_database_loses_nothing_and_says_so(tmp_path, fake_cl):
    config = baselined(tmp_path, fake_cl)
    before = dump_db(tmp_path)
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION AND ORDER extending time")
    read_only = write_config(ro_folder(tmp_path), fake_cl.base_url,
                             database_url=f"sqlite:///file:{tmp_path / 'dw.db'}?mode=ro&uri=true")
    result = run_cli(read_only, "check")
    assert result.returncode == 3
    line = one_line(result)
    assert "database sqlite:///" in line and "it is read-only" in line and "writable" in line
    assert dump_db(tmp_path) == before
    assert run_cli(config, "check").returncode == 0  # writable again: the filing is stored
    assert len(dump_db(tmp_path)["entry"]) == len(before["entry"]) + 1


def test_a_lock_held_past_the_busy_timeout_is_one_line(tmp_path, fake_cl, monkeypatch):
    config = baselined(tmp_path, fake_cl)
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 300)
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION AND ORDER extending time")
    holder = sqlite3.connect(tmp_path / "dw.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
    try:
        result = run_cli(config, "check")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 3
    assert "kept it locked for more than 0 s" in one_line(result) and "try again" in one_line(result)


def test_a_full_disk_loses_nothing_and_says_so(tmp_path, fake_cl):
    config = baselined(tmp_path, fake_cl)
    before = dump_db(tmp_path)
    for n in range(3000):  # megabytes to write; the file size limit allows a few kilobytes more
        fake_cl.add_entry(KADREY_ID, str(700 + n), "2025-07-09", f"ORDER {n} " + "x" * 1000)
    limit = max(p.stat().st_size for p in tmp_path.glob("dw.db*")) + 4096

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "docketwatch", "--config", str(config), "check"],
                          capture_output=True, text=True, env={**os.environ, "CL_TEST_TOKEN": "test-token"},
                          preexec_fn=small_disk, timeout=120)
    assert proc.returncode == 3, proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "database sqlite:///" in lines[0], proc.stderr
    assert "disk" in lines[0] and "nothing was lost" in lines[0]
    assert dump_db(tmp_path) == before


def test_under_run_a_database_error_in_a_job_is_one_log_line_and_the_service_goes_on(tmp_path, fake_cl, caplog,
                                                                                     cl_token):
    baselined(tmp_path, fake_cl)
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION AND ORDER extending time")
    read_only = write_config(ro_folder(tmp_path), fake_cl.base_url,
                             database_url=f"sqlite:///file:{tmp_path / 'dw.db'}?mode=ro&uri=true")
    cfg = config_mod.load(read_only)
    svc = service.Service(cfg, store.open_engine(cfg.database.url))
    job = svc.jobs[0]
    with caplog.at_level(logging.INFO):
        svc._job(job.job_id, svc.poll, job)  # returns: the service goes on
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert errors[0].getMessage().startswith(f"{job.job_id}: database sqlite:///")
    assert "read-only" in errors[0].getMessage()


def test_an_edit_read_while_the_database_is_locked_is_taken_up_once_it_works_again(tmp_path, monkeypatch, cl_token):
    """`run` reloads an edited file: should the database fail meanwhile (another writer
    holds it past the busy timeout), the edit is tried again at the next check, not lost."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 100)  # a lock held "too long" within a test
    path = write_config(tmp_path, "http://127.0.0.1:9")
    path.write_text(path.read_text() + '\n[[digests]]\nname = "desk"\nchannel = "markdown"\ndir = "out"\n')
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    digests.record_subscriptions(engine, cfg)  # as `run` does at start
    svc = service.Service(cfg, engine, load=lambda: config_mod.load(path))
    before = [job.job_id for job in svc.jobs]
    path.write_text(path.read_text() + SUNEDISON_CASE)  # the user adds a case
    holder = sqlite3.connect(tmp_path / "dw.db")
    holder.execute("BEGIN EXCLUSIVE")  # another process writes, for longer than the busy timeout
    try:
        with pytest.raises(store.StoreError, match="locked"):
            svc.reload()  # the job logs it (one line) and the service goes on
    finally:
        holder.rollback()
        holder.close()
    assert [job.job_id for job in svc.jobs] == before and len(svc.config.cases) == len(cfg.cases)
    svc.reload()  # the next check
    assert len(svc.jobs) == len(before) + 1 and len(svc.config.cases) == len(cfg.cases) + 1


def test_a_database_from_a_newer_docketwatch_is_one_line_and_left_as_it_is(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9")
    assert run_cli(path, "status").returncode == 0
    with sqlite3.connect(tmp_path / "dw.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    result = run_cli(path, "status")
    assert result.returncode == 2
    assert "was written by a newer docketwatch (schema 0099_from_the_future)" in one_line(result)
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099_from_the_future",)]


@pytest.mark.parametrize("kind", ["plain", "with-its-own-alembic", "with-a-case-table"])
def test_another_applications_sqlite_file_is_one_line_and_left_untouched(tmp_path, kind):
    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('mine')")
        if kind == "with-a-case-table":  # a name docketwatch uses too
            db.execute('CREATE TABLE "case" (id INTEGER PRIMARY KEY, title TEXT)')
        if kind == "with-its-own-alembic":  # an application that migrates with Alembic too
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            db.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
    before = other.read_bytes()
    path = write_config(tmp_path, "http://127.0.0.1:9", database_url=f"sqlite:///{other}")
    for command in ("status", "check"):
        result = run_cli(path, command)
        assert result.returncode == 2
        assert one_line(result) == (f"docketwatch: {other} is not a docketwatch database (it has tables but no "
                                    "docketwatch revision); set [database] url to a database of its own")
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["docketwatch.toml",
                                                                                          "notes.db"]


def test_another_applications_postgresql_database_is_one_line_and_left_untouched(tmp_path, postgres_server):
    with new_postgres_database(postgres_server) as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE notes (id SERIAL PRIMARY KEY, text TEXT)"))
        path = write_config(tmp_path, "http://127.0.0.1:9", database_url=url)
        result = run_cli(path, "status")
        assert result.returncode == 2 and "is not a docketwatch database" in one_line(result)
        with engine.connect() as connection:
            assert inspect(connection).get_table_names() == ["notes"]
        engine.dispose()
