"""Event kinds: what a person may hear about a case, the `kind` of every stored event."""

from enum import StrEnum


class EventKind(StrEnum):
    NEW = "new"  # an entry seen for the first time
    CHANGED = "changed"  # a stored entry changed (its `changes` say how)
    CASE = "case"  # a case fact changed (renamed, reassigned, terminated)
    GAP = "gap"  # entries may have been missed
    ERROR = "error"  # a source started failing for the case
    LINKED = "linked"  # the case's text names a docket it went to (appeal, transfer, remand, MDL)
    NEW_CASE = "new_case"  # a case no one watches matched a [[discover]] rule
