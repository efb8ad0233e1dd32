"""Digest schedules: `immediate`, `daily HH:MM`, `weekly DAY HH:MM`, parsed once into `Schedule`,
and `cutoff`, which says from a schedule whether a digest is due. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Schedule:
    """`immediate`, `daily HH:MM` or `weekly DAY HH:MM` (wall-clock time in the configured zone)."""

    kind: str  # immediate | daily | weekly
    at: time | None = None
    weekday: int | None = None  # 0 = Monday


def parse_schedule(text: str) -> Schedule:
    """Read a schedule; ValueError (worded for the configuration) when it is not one."""
    words = text.lower().split()
    try:
        if words == ["immediate"]:
            return Schedule("immediate")
        if len(words) == 2 and words[0] == "daily":
            return Schedule("daily", time.fromisoformat(words[1]))
        if len(words) == 3 and words[0] == "weekly":
            day = next(i for i, name in enumerate(WEEKDAYS) if name.startswith(words[1]) and len(words[1]) >= 3)
            return Schedule("weekly", time.fromisoformat(words[2]), day)
    except (ValueError, StopIteration):
        pass
    raise ValueError('must be "immediate", "daily HH:MM" or "weekly DAY HH:MM" (e.g. "weekly monday 07:30")')


def cutoff(schedule: Schedule, last_cutoff: datetime | None, now: datetime, zone: ZoneInfo) -> datetime | None:
    """Up to when a digest is due at `now`, or None when none is due. Pure: a scheduler
    can ask without a database.

    Immediate: up to now, always. Daily and weekly: up to the latest scheduled time at
    or before `now`, unless the subscription's previous digest (`last_cutoff`) already
    covered it. A digest covers only events created before its cutoff, so events that
    arrive after 07:00 wait for tomorrow's 07:00 digest even when 07:00 itself sent nothing.
    """
    if schedule.kind == "immediate":
        return now
    assert schedule.at is not None
    step = timedelta(days=7 if schedule.kind == "weekly" else 1)
    day = now.astimezone(zone).date()
    if schedule.weekday is not None:
        day -= timedelta(days=(day.weekday() - schedule.weekday) % 7)
    slot = datetime.combine(day, schedule.at, tzinfo=zone)
    if slot > now:
        slot = datetime.combine(day - step, schedule.at, tzinfo=zone)
    slot = slot.astimezone(UTC)
    return slot if last_cutoff is None or last_cutoff < slot else None
