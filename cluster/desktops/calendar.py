"""A course's calendar: `SCHEDULE = Mon-Fri 08:30-18:00` in TIMEZONE, as data and as cron.

    calendar = parse_schedule("Mon,Wed 09:00-12:00; Fri 13:00-17:00")
    calendar.cron_entries(lead=900)   # [CronEntry("start", "cron(45 8 ? * MON,WED *)"), …]
    calendar.windows(since, until, ZoneInfo("Europe/Madrid"))  # class hours, as datetimes

Grammar (one or more ranges separated by `;`): `DAYS HH:MM-HH:MM`, DAYS a comma list of days
or day ranges (`Mon-Fri`, `Mon,Wed`, `Sat`; English names or their first three letters, any
case; a range may wrap: `Sat-Mon`). The end is after the start on the same day (no class
through midnight), and two ranges may not overlap on a day. Desktops start LEAD before each
range (the day before, if the lead crosses midnight) and stop at its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # datetime.weekday() order
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"^(?P<days>[A-Za-z][A-Za-z,\s-]*?)\s+"
                    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")
MINUTES_PER_WEEK = 7 * 24 * 60


def _day(text: str) -> int:
    word = text.strip().lower()
    for index, full in enumerate(_FULL):
        if word in (full, full[:3]):
            return index
    raise ValueError(f"{text.strip()!r} is not a day (Mon, Tue, … Sun)")


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and int(hours) <= 24 and int(minutes) < 60
            and (int(hours) < 24 or int(minutes) == 0)):
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 24-hour)")
    return int(hours) * 60 + int(minutes)


def _days(text: str) -> tuple[int, ...]:
    found: list[int] = []
    for part in text.split(","):
        if not part.strip():
            raise ValueError(f"{text.strip()!r}: an empty day in the list")
        first, dash, last = part.partition("-")
        if dash:
            a, b = _day(first), _day(last)
            span = [(a + i) % 7 for i in range((b - a) % 7 + 1)]
        else:
            span = [_day(first)]
        for day in span:
            if day in found:
                raise ValueError(f"{DAYS[day].title()} is named twice in {text.strip()!r}")
            found.append(day)
    return tuple(sorted(found))


@dataclass(frozen=True)
class ClassRange:
    """Class on DAYS (0 = Monday) from START to END (minutes after midnight)."""

    days: tuple[int, ...]
    start: int
    end: int

    def __str__(self) -> str:
        days = ",".join(DAYS[d].title() for d in self.days)
        return f"{days} {self.start // 60:02d}:{self.start % 60:02d}-" \
               f"{self.end // 60:02d}:{self.end % 60:02d}"


@dataclass(frozen=True)
class CronEntry:
    """One EventBridge Scheduler cron: ACTION (start or stop) at EXPRESSION."""

    action: str
    expression: str


@dataclass(frozen=True)
class Calendar:
    ranges: tuple[ClassRange, ...]

    def __str__(self) -> str:
        return "; ".join(str(r) for r in self.ranges)

    def cron_entries(self, lead: int) -> list[CronEntry]:
        """Start crons (LEAD seconds before each range) and stop crons (at each end), one per
        distinct time of day, days as EventBridge names (MON…SUN), in the calendar's zone."""
        lead_minutes = -(-lead // 60)
        starts: dict[int, set[int]] = {}
        stops: dict[int, set[int]] = {}
        for item in self.ranges:
            for day in item.days:
                at = (day * 1440 + item.start - lead_minutes) % MINUTES_PER_WEEK
                starts.setdefault(at % 1440, set()).add(at // 1440)
                end = day * 1440 + item.end
                if item.end == 1440:  # 24:00 is the next day's 00:00
                    end %= MINUTES_PER_WEEK
                stops.setdefault(end % 1440, set()).add(end // 1440 % 7)
        entries = []
        for action, table in (("start", starts), ("stop", stops)):
            for minute, days in sorted(table.items()):
                names = ",".join(DAYS[d] for d in sorted(days))
                entries.append(CronEntry(action,
                                         f"cron({minute % 60} {minute // 60} ? * {names} *)"))
        return entries

    def windows(self, since: datetime, until: datetime, zone: tzinfo
                ) -> list[tuple[datetime, datetime]]:
        """The class hours between SINCE and UNTIL (aware datetimes), clipped, in order."""
        found = []
        day = since.astimezone(zone).date() - timedelta(days=1)
        last = until.astimezone(zone).date()
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for item in self.ranges:
                if day.weekday() in item.days:
                    start = (midnight + timedelta(minutes=item.start)).astimezone(zone)
                    end = (midnight + timedelta(minutes=item.end)).astimezone(zone)
                    start, end = max(start, since), min(end, until)
                    if start < end:
                        found.append((start, end))
            day += timedelta(days=1)
        return sorted(found)


def parse_schedule(value: str) -> Calendar:
    """`Mon-Fri 08:30-18:00; Sat 09:00-13:00` -> Calendar; ValueError says what is wrong."""
    ranges: list[ClassRange] = []
    parts = [p.strip() for p in value.split(";")]
    if not any(parts):
        raise ValueError("an empty SCHEDULE (e.g. Mon-Fri 08:30-18:00)")
    for part in parts:
        if not part:
            raise ValueError(f"{value!r}: an empty range between ';'")
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"{part!r} is not DAYS HH:MM-HH:MM (e.g. Mon-Fri 08:30-18:00)")
        days = _days(match.group("days"))
        start, end = _minute(match.group("start")), _minute(match.group("end"))
        if start == 1440:
            raise ValueError(f"{part!r}: a class cannot start at 24:00")
        if end <= start:
            raise ValueError(f"{part!r}: the end is not after the start (a class through "
                             "midnight is two ranges: … 22:00-24:00; … 00:00-02:00)")
        item = ClassRange(days, start, end)
        for other in ranges:
            shared = set(other.days) & set(days)
            if shared and start < other.end and other.start < end:
                raise ValueError(f"{item} overlaps {other} on "
                                 f"{DAYS[min(shared)].title()}")
        ranges.append(item)
    return Calendar(tuple(ranges))


def as_schedule(value: str) -> str:
    """The config parser: SCHEDULE checked, kept as the user's text normalized."""
    return str(parse_schedule(value))
