"""Timer schedules as the Functions host reads them: NCRONTAB (six fields, seconds first, or five) and TimeSpan.

The cron rules are NCrontab's, the library the host uses: a day must match both the day-of-month and the
day-of-week field (not either, as in Vixie cron); names are prefixes of English month and day names; a
reversed range (``5-1``) is the same as ``1-5``. Next occurrences are computed on the wall clock of the host's
time zone, with the host's rules for daylight saving time.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from funchost.dotnet import DAY_NAMES, MONTH_NAMES, format_timespan, parse_timespan

__all__ = [
    "CronSchedule",
    "Schedule",
    "ScheduleError",
    "TimeSpanSchedule",
    "datetime_o_local",
    "format_occurrences",
    "json_datetime",
    "next_occurrences",
    "parse_schedule",
    "resolve_time_zone",
    "uses_monitor",
]

MONTHS = MONTH_NAMES
DAYS = DAY_NAMES


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, MONTHS),
    _Field("day of week", 0, 6, DAYS),
)
_MAX_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
_HORIZON_YEARS = 400
_UTC_NAMES = frozenset(
    {"utc", "etc/utc", "gmt", "etc/gmt", "universal", "etc/universal", "zulu", "etc/zulu", "uct"}
)


class ScheduleError(ValueError):
    """A schedule the host would refuse (or that can never fire); the message says what and how to fix it."""


# --- parsing ----------------------------------------------------------------------------------------------


def _value(text: str, field: _Field) -> int:
    if text[:1].isdigit():
        if not text.isdigit():
            raise ScheduleError(f"'{text}' is not a number")
        return int(text)
    if not field.names:
        raise ScheduleError(f"'{text}' is not a number between {field.low} and {field.high}")
    for index, name in enumerate(field.names):
        if text and name.lower().startswith(text.lower()):
            return index + field.low
    raise ScheduleError(
        f"'{text}' is not a {field.name} name (use a number or one of {', '.join(field.names)})"
    )


def _check_range(value: int, field: _Field) -> int:
    if not field.low <= value <= field.high:
        raise ScheduleError(f"{value} is out of range: a {field.name} is {field.low}-{field.high}")
    return value


def _parse_item(item: str, field: _Field) -> set[int]:
    if not item:
        raise ScheduleError("an empty value in a list (two commas in a row, or a trailing comma)")
    step = 1
    base = item
    if "/" in item:
        base, _, step_text = item.partition("/")
        if not step_text.isdigit():
            raise ScheduleError(f"the step in '{item}' must be a whole number, e.g. */5")
        step = int(step_text)
        if step == 0:
            raise ScheduleError(f"the step in '{item}' is 0; use 1 or more (*/1 is every {field.name})")
        if not base:
            raise ScheduleError(f"'{item}' has no start before '/'; write */{step_text}")
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base[1:]:
        first, _, last = base.partition("-")
        if not first or not last:
            raise ScheduleError(f"'{base}' is not a range (write a-b)")
        start = _check_range(_value(first, field), field)
        end = _check_range(_value(last, field), field)
        start, end = min(start, end), max(start, end)
    else:
        start = _check_range(_value(base, field), field)
        end = field.high if "/" in item else start
    return set(range(start, end + 1, step))


def _parse_field(text: str, field: _Field) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, field)
    return tuple(sorted(values))


def _expand(values: tuple[int, ...], field: _Field) -> str:
    """NCrontab's canonical text of a field: ``*``, or runs ``a-b`` and single values joined by commas."""
    if values == tuple(range(field.low, field.high + 1)):
        return "*"
    runs: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        runs.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(runs)


def _after(values: tuple[int, ...], start: int) -> int | None:
    """The first value >= start, or None."""
    i = bisect_left(values, start)
    return values[i] if i < len(values) else None


@dataclass(frozen=True)
class CronSchedule:
    """An NCRONTAB expression (five fields, or six with seconds first)."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    has_seconds: bool

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        parts = text.split()
        if len(parts) not in (5, 6):
            raise ScheduleError(
                f"a cron expression has 6 fields (second minute hour day month day-of-week) or 5 (no seconds); "
                f"'{text}' has {len(parts)}"
            )
        has_seconds = len(parts) == 6
        if not has_seconds:
            parts = ["0", *parts]
        values: list[tuple[int, ...]] = []
        for position, (part, field) in enumerate(zip(parts, _FIELDS, strict=True)):
            try:
                values.append(_parse_field(part, field))
            except ScheduleError as exc:
                number = position + (1 if has_seconds else 0)
                raise ScheduleError(f"field {number} ({field.name}) '{part}': {exc}") from None
        seconds, minutes, hours, days, months, weekdays = values
        schedule = cls(text, seconds, minutes, hours, days, months, weekdays, has_seconds)
        if not any(d <= _MAX_DAYS[m] for m in schedule.months for d in schedule.days):
            day_text = _expand(schedule.days, _FIELDS[3])
            month_text = ", ".join(MONTHS[m - 1] for m in schedule.months)
            raise ScheduleError(
                f"'{text}' never fires: no month in its month field ({month_text}) has a day {day_text}. "
                "(Azure accepts it and never runs the function.)"
            )
        return schedule

    def expanded(self) -> str:
        """The expression as the host prints it (NCrontab's ``ToString``: ``*/15`` becomes ``0,15,30,45``)."""
        fields = [self.seconds, self.minutes, self.hours, self.days, self.months, self.weekdays]
        texts = [_expand(v, f) for v, f in zip(fields, _FIELDS, strict=True)]
        return " ".join(texts if self.has_seconds else texts[1:])

    def __str__(self) -> str:
        return f"Cron: '{self.expanded()}'"

    @property
    def is_interval(self) -> bool:
        """The host's test for "interval" (vs point-in-time) schedules, which matters at DST changes."""
        parts = self.expanded().split()[: 3 if self.has_seconds else 2]
        return any(c in part for part in parts for c in "*/-")

    def next_wall(self, after: datetime) -> datetime | None:
        """The first wall-clock time strictly after ``after`` (naive, whole seconds) that matches, or None."""
        t = after.replace(microsecond=0, tzinfo=None) + timedelta(seconds=1)
        y, mo, d, h, mi, s = t.year, t.month, t.day, t.hour, t.minute, t.second
        last_year = min(y + _HORIZON_YEARS, 9999)
        days, weekdays = set(self.days), set(self.weekdays)
        while y <= last_year:
            next_month = _after(self.months, mo)
            if next_month is None:
                y, mo, d, h, mi, s = y + 1, self.months[0], 1, 0, 0, 0
                continue
            if next_month != mo:
                mo, d, h, mi, s = next_month, 1, 0, 0, 0
            last_day = calendar.monthrange(y, mo)[1]
            if d > last_day:
                y, mo, d, h, mi, s = (y + 1, 1, 1, 0, 0, 0) if mo == 12 else (y, mo + 1, 1, 0, 0, 0)
                continue
            if d not in days or (calendar.weekday(y, mo, d) + 1) % 7 not in weekdays:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            hour = _after(self.hours, h)
            if hour is None:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if hour != h:
                h, mi, s = hour, 0, 0
            minute = _after(self.minutes, mi)
            if minute is None:
                h, mi, s = h + 1, 0, 0
                if h > 23:
                    d, h = d + 1, 0
                continue
            if minute != mi:
                mi, s = minute, 0
            second = _after(self.seconds, s)
            if second is None:
                mi, s = mi + 1, 0
                if mi > 59:
                    h, mi = h + 1, 0
                    if h > 23:
                        d, h = d + 1, 0
                continue
            return datetime(y, mo, d, h, mi, second)
        return None

    def next_after(self, now: datetime, tz: tzinfo) -> datetime | None:
        """The next occurrence strictly after the aware instant ``now``, as an aware datetime in ``tz``."""
        wall = now.astimezone(tz)
        naive = wall.replace(tzinfo=None)
        if _is_utc(tz):
            found = self.next_wall(naive)
            return None if found is None else found.replace(tzinfo=tz)
        limit = now.timestamp()
        best: datetime | None = None
        if self.is_interval and wall.fold == 0 and _ambiguous(naive, tz):
            # in the first pass of a repeated hour, the second pass (same wall times, later instants) comes
            # before the next new wall time: an interval schedule runs through both, as the host does
            probe = self.next_wall(naive - timedelta(hours=3))
            while probe is not None and probe <= naive:
                second_pass = probe.replace(tzinfo=tz, fold=1)
                if _ambiguous(probe, tz) and second_pass.timestamp() > limit:
                    best = second_pass
                    break
                probe = self.next_wall(probe)
        candidate = self.next_wall(naive)
        while candidate is not None:
            options = [candidate.replace(tzinfo=tz, fold=0)]
            if self.is_interval and _ambiguous(candidate, tz):
                options.append(candidate.replace(tzinfo=tz, fold=1))
            later = [o for o in options if o.timestamp() > limit]
            if later:
                first = min(later, key=lambda o: o.timestamp())
                chosen = first if best is None or first.timestamp() < best.timestamp() else best
                return chosen.astimezone(UTC).astimezone(tz)  # a time in a DST gap moves to the real clock
            candidate = self.next_wall(candidate)
        return None if best is None else best.astimezone(UTC).astimezone(tz)


@dataclass(frozen=True)
class TimeSpanSchedule:
    """A constant period (``hh:mm:ss`` or ``d.hh:mm:ss``): the next occurrence is the last one plus the period."""

    text: str
    period: timedelta

    def __str__(self) -> str:
        return f"Constant: {format_timespan(self.period)}"

    def next_after(self, now: datetime, tz: tzinfo) -> datetime:
        return (now + self.period).astimezone(tz)


Schedule = CronSchedule | TimeSpanSchedule


def parse_schedule(text: str) -> Schedule:
    """A cron expression or a TimeSpan, tried in that order as the host does; ScheduleError says why not."""
    cron_error: ScheduleError | None = None
    try:
        return CronSchedule.parse(text)
    except ScheduleError as exc:
        cron_error = exc
    try:
        period = parse_timespan(text)
    except ValueError:
        period = None
    if period is not None:
        if period <= timedelta(0):
            raise ScheduleError(f"the TimeSpan schedule '{text}' must be a positive period, e.g. 00:05:00")
        return TimeSpanSchedule(text, period)
    if ":" in text and len(text.split()) == 1:
        raise ScheduleError(
            f"'{text}' is not a TimeSpan: write hh:mm:ss (hours 0-23, minutes and seconds 0-59) or d.hh:mm:ss, "
            "e.g. 00:05:00 for every five minutes"
        )
    if not text.strip():
        raise ScheduleError(
            "the schedule is empty: write a cron expression such as '0 */5 * * * *' or a TimeSpan"
        )
    raise ScheduleError(str(cron_error))


def uses_monitor(schedule: Schedule, requested: bool, now: datetime) -> bool:
    """Whether the schedule status is kept: the host turns ``useMonitor`` off for schedules that fire more than
    once a minute."""
    if not requested:
        return False
    if isinstance(schedule, TimeSpanSchedule):
        return schedule.period >= timedelta(minutes=1)
    rest = schedule.expanded().split()[1:]
    if any(part != "*" for part in rest):
        return True
    naive = now.replace(tzinfo=None)
    first = schedule.next_wall(naive)
    second = schedule.next_wall(first) if first is not None else None
    return second is None or second >= naive + timedelta(minutes=1)


def next_occurrences(schedule: Schedule, count: int, now: datetime, tz: tzinfo) -> list[datetime]:
    """The next ``count`` occurrences after ``now`` (fewer when the schedule ends)."""
    found: list[datetime] = []
    current = now
    for _ in range(count):
        following = schedule.next_after(current, tz)
        if following is None:
            break
        found.append(following)
        current = following
    return found


# --- time zones and formats ----------------------------------------------------------------------------


def _is_utc(tz: tzinfo) -> bool:
    if tz is UTC:
        return True
    key = getattr(tz, "key", None)
    return isinstance(key, str) and key.lower() in _UTC_NAMES


def _ambiguous(naive: datetime, tz: tzinfo) -> bool:
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return False
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return round_trip == naive  # a gap time does not round-trip; a repeated one does


def resolve_time_zone(website_time_zone: str | None, tz_setting: str | None) -> tuple[tzinfo, str | None]:
    """The schedules' time zone: ``WEBSITE_TIME_ZONE``, else ``TZ``, else UTC (Azure's default).

    Returns the zone and a warning (an unusable ``TZ`` falls back to UTC); an unusable ``WEBSITE_TIME_ZONE`` raises
    ScheduleError.
    """
    if website_time_zone and website_time_zone.strip():
        name = website_time_zone.strip()
        try:
            return ZoneInfo(name), None
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                f"WEBSITE_TIME_ZONE '{name}' is not a time zone funchost knows. Use an IANA name such as "
                "'Europe/London' or 'America/New_York' (Windows names such as 'Eastern Standard Time' work "
                "only on Windows App Service plans)."
            ) from None
    if tz_setting and tz_setting.strip():
        name = tz_setting.strip().lstrip(":")
        try:
            return ZoneInfo(name), None
        except (ZoneInfoNotFoundError, ValueError):
            return UTC, f"TZ '{tz_setting}' is not an IANA time zone name; timer schedules use UTC."
    return UTC, None


def format_occurrences(occurrences: list[datetime], tz: tzinfo) -> list[str]:
    """Lines of the host's "next occurrences" message: ``MM/dd/yyyy HH:mm:ssZ``, with UTC in parentheses when
    the time zone is not UTC."""
    lines = []
    for occurrence in occurrences:
        utc = occurrence.astimezone(UTC).strftime("%m/%d/%Y %H:%M:%SZ")
        if _is_utc(tz):
            lines.append(utc)
        else:
            local = occurrence.astimezone(tz)
            lines.append(f"{local.strftime('%m/%d/%Y %H:%M:%S')}{_offset(local)} ({utc})")
    return lines


def _offset(value: datetime) -> str:
    delta = value.utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = int(abs(delta).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def json_datetime(value: datetime | None, tz: tzinfo) -> str:
    """A local ``DateTime`` as Json.NET writes it (``yyyy-MM-ddTHH:mm:ss.FFFFFFF+hh:mm``); None is the host's
    "never" (``DateTime.MinValue`` in local time)."""
    if value is None:
        offset = datetime(2000, 1, 1, tzinfo=tz).utcoffset() or timedelta(0)
        base = datetime(1, 1, 1) + max(offset, timedelta(0))
        return f"0001-01-01T{base.hour:02d}:{base.minute:02d}:00" + _offset(datetime(2000, 1, 1, tzinfo=tz))
    local = value.astimezone(tz)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if local.microsecond:
        text += "." + f"{local.microsecond:06d}".rstrip("0")
    return text + _offset(local)


def datetime_o_local(value: datetime, tz: tzinfo) -> str:
    """``DateTime.Now.ToString("o")``: seven fractional digits and the local offset (``+00:00`` in UTC)."""
    local = value.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0" + _offset(local)
