"""The configuration file as people keep it, edited with tomlkit: a `[[cases]]` table added
after the last one, comments and layout kept, the file replaced atomically. `watchlist`
(add, remove, pause) and `pipeline.follow` (a followed docket) both write through here."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Comment, Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from docketwatch.files import replace_atomically


class EditError(Exception):
    """The file cannot be edited (worded for the user, naming the file)."""


def edit(path: Path, change: Callable[[TOMLDocument], None], check: Callable[[Path], None] | None = None) -> None:
    """Apply `change` to the file's document and, if that changed it, write it through a
    temporary file in the same folder, replaced only once `check` (when given) accepts
    it: a crash or a refused edit never leaves half a file.

    Edits take turns (a lock on the folder), each reading the file as the previous one
    left it, so `add`s run together, or a `run` following a docket meanwhile, lose none.
    A symlinked file is edited where it points (the link stays). The watchlist installed
    with docketwatch is never edited: an upgrade would overwrite it."""
    target = path.resolve()
    if any(target == Path(str(bundled)).resolve() for bundled in resources.files("docketwatch.defaults").iterdir()):
        raise EditError(f"{path} is the watchlist installed with docketwatch, which an upgrade replaces; copy "
                          "it (docketwatch init), point --config (or $DOCKETWATCH_CONFIG) at the copy, and edit that")
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        raw = target.read_bytes()
        text = raw.decode("utf-8").replace("\r\n", "\n")
        doc = tomlkit.parse(text)
        change(doc)
        edited = doc.as_string()
        if edited != text:  # a change that changed nothing leaves the file as it was
            # Renaming over a read-only file would edit it all the same (for root, whatever its mode).
            if not os.access(target, os.W_OK) or not target.stat().st_mode & 0o222:
                raise PermissionError(errno.EACCES, "the file is read-only")
            # A file kept with Windows line ends keeps them, the new lines included.
            replace_atomically(target, edited.replace("\n", "\r\n") if b"\r\n" in raw else edited, check)
    except OSError as e:
        raise EditError(f"{path}: cannot write it ({e.strerror or e}); check the permissions of the file "
                          "and of its folder") from None
    finally:
        os.close(folder)


def append_case(doc: TOMLDocument, fields: Mapping[str, Any]) -> None:
    """A `[[cases]]` table after the last one, a blank line apart from what is around it.
    ValueError when the file's `cases` is not a list of tables."""
    table = tomlkit.table()
    for key, value in fields.items():
        table[key] = value
    cases = doc.get("cases")
    if isinstance(cases, Array) and not len(cases):  # `cases = []`, as an older `remove` left the last one
        del doc["cases"]
        cases = None
    if cases is None:
        if not doc.as_string().endswith("\n\n"):
            doc.add(tomlkit.nl())  # a blank line above the first [[cases]]
        doc.append("cases", tomlkit.aot())
        cases = doc["cases"]
    if not isinstance(cases, AoT):
        raise ValueError("cases is not a list of [[cases]] tables")
    if len(cases):
        # tomlkit keeps the lines above the next table (a comment on [[discover]], say) at
        # the end of the last case: they move below the new one, so they stay above theirs.
        previous = cases[-1]
        body = previous.value.body
        last = max(i for i, (key, _) in enumerate(body) if key is not None)
        moved = [item for _, item in body[last + 1:]]
        if not all(isinstance(item, (Comment, Whitespace)) for item in moved):
            moved = []  # nothing but comments and blank lines is ever moved
        del body[last + 1:last + 1 + len(moved)]
        previous.add(tomlkit.nl())
        for item in moved:
            assert isinstance(item, (Comment, Whitespace))
            table.add(item)
    cases.append(table)


def trailing(table: Table) -> list[Item]:
    """The comments and blank lines after a table's last key (tomlkit keeps what precedes
    the next table in this one)."""
    body = table.value.body
    last = max(i for i, (key, _) in enumerate(body) if key is not None)
    return [item for _, item in body[last + 1:]]
