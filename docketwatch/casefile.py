"""The configuration file as people keep it, edited with tomlkit: a `[[cases]]` table added
after the last one, comments and layout kept, the file replaced atomically. `watchlist`
(add, remove, pause) and `pipeline.follow` (a followed docket) both write through here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Comment, Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from docketwatch.files import replace_atomically


def edit(path: Path, change: Callable[[TOMLDocument], None], check: Callable[[Path], None] | None = None) -> None:
    """Apply `change` to the file's document and write it through a temporary file in the
    same folder, replaced only once `check` (when given) accepts it: a crash or a refused
    edit never leaves half a file."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    change(doc)
    replace_atomically(path, doc.as_string(), check)


def append_case(doc: TOMLDocument, fields: Mapping[str, Any]) -> None:
    """A `[[cases]]` table after the last one, a blank line apart from what is around it.
    ValueError when the file's `cases` is not a list of tables."""
    table = tomlkit.table()
    for key, value in fields.items():
        table[key] = value
    cases = doc.get("cases")
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


def ends_blank(table: Table) -> bool:
    return "\n" in "".join(item.as_string() for item in trailing(table) if isinstance(item, Whitespace))
