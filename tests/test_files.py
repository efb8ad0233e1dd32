"""A file docketwatch replaces is whole or not there: the old one stays when the check
refuses or the write fails, nothing is left behind, and the mode is kept."""

from __future__ import annotations

import os
import stat

import pytest

from docketwatch.files import replace_atomically


def test_a_refused_replacement_keeps_the_old_file_and_leaves_no_litter(tmp_path):
    target = tmp_path / "watchlist.toml"
    target.write_text("old\n")
    target.chmod(0o600)  # a watchlist that holds secrets' names stays private

    def refuse(candidate):
        assert candidate.read_text() == "new\n" and candidate.parent == tmp_path
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        replace_atomically(target, "new\n", refuse)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["watchlist.toml"]

    replace_atomically(target, "new\n", lambda candidate: None)
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["watchlist.toml"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_new_file_is_readable_by_all_and_its_folder_is_made(tmp_path):
    target = tmp_path / "feeds" / "case.atom"
    replace_atomically(target, b"<feed/>")
    assert target.read_bytes() == b"<feed/>" and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_replaced_file_keeps_its_owner_and_group(tmp_path):
    """A service may read its configuration through its group: `add` must not take it away."""
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user to test this")
    target = tmp_path / "dw.toml"
    target.write_text("old")
    os.chown(target, 65534, 65534)
    target.chmod(0o640)
    replace_atomically(target, "new")
    kept = target.stat()
    assert (target.read_text(), kept.st_uid, kept.st_gid, stat.S_IMODE(kept.st_mode)) == ("new", 65534, 65534, 0o640)
