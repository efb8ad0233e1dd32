"""Files written whole or not at all: the one way docketwatch replaces a file that
someone else may read meanwhile (a feed reader, a calendar app, the watchlist's owner);
and saved pages read whole, up to a size no saved page reaches."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

# A saved docket page larger than this is no page (a device such as /dev/zero, a disk image):
# read no further. The longest dockets' reports are tens of megabytes.
MAX_READ = 256 * 2**20


def replace_atomically(target: Path, data: bytes | str, check: Callable[[Path], None] | None = None) -> None:
    """Write `data` to a temporary file beside `target`, flush it to disk, and rename it
    over `target` (only once `check`, when given, accepts the temporary file): a reader
    sees the old file or the new one, never half of one, and a crash leaves no litter.
    The file keeps the mode, owner and group of the one it replaces (as far as this user
    may give them: a service may read it through its group); a new one is readable by
    all (0644)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        try:
            was = target.stat()
        except FileNotFoundError:
            os.chmod(temporary, 0o644)
        else:
            try:
                os.chown(temporary, was.st_uid, was.st_gid)
            except PermissionError:  # another user's file: a group of this user's only
                with contextlib.suppress(PermissionError):
                    os.chown(temporary, -1, was.st_gid)
            os.chmod(temporary, stat.S_IMODE(was.st_mode))
        if check is not None:
            check(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def read_page(path: Path, limit: int = MAX_READ) -> bytes:
    """The file's bytes; ValueError when it holds more than `limit` (OSError as open raises it)."""
    with path.open("rb") as f:
        content = f.read(limit + 1)
    if len(content) > limit:
        raise ValueError(f"larger than {limit // 2**20} MiB: not a saved docket page")
    return content
