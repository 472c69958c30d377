"""Timer schedules: NCRONTAB and TimeSpan parsing, next occurrences, time zones, the host's formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from funchost_timer.schedule import (
    CronSchedule,
    ScheduleError,
    TimeSpanSchedule,
    datetime_o_local,
    format_occurrences,
    json_datetime,
    next_occurrences,
    parse_schedule,
    resolve_time_zone,
    uses_monitor,
)

NOW = datetime(2024, 1, 1, 10, 2, 3, 500000, tzinfo=UTC)  # a Monday
LA = ZoneInfo("America/Los_Angeles")


def nexts(expr: str, count: int = 5, now: datetime = NOW) -> list[str]:
    return [
        o.strftime("%Y-%m-%d %H:%M:%S %a") for o in next_occurrences(parse_schedule(expr), count, now, UTC)
    ]


def test_seconds_come_first_in_six_fields() -> None:
    assert nexts("30 * * * * *", 3) == [
        "2024-01-01 10:02:30 Mon",
        "2024-01-01 10:03:30 Mon",
        "2024-01-01 10:04:30 Mon",
    ]


def test_five_fields_start_with_minutes_at_second_zero() -> None:
    assert nexts("30 * * * *", 2) == ["2024-01-01 10:30:00 Mon", "2024-01-01 11:30:00 Mon"]
    assert str(parse_schedule("*/15 * * * *")) == "Cron: '0,15,30,45 * * * *'"


def test_steps_ranges_lists() -> None:
    assert nexts("*/20 * * * * *", 4) == [
        "2024-01-01 10:02:20 Mon",
        "2024-01-01 10:02:40 Mon",
        "2024-01-01 10:03:00 Mon",
        "2024-01-01 10:03:20 Mon",
    ]
    assert nexts("0 0 9-17/4 * * *", 4) == [
        "2024-01-01 13:00:00 Mon",
        "2024-01-01 17:00:00 Mon",
        "2024-01-02 09:00:00 Tue",
        "2024-01-02 13:00:00 Tue",
    ]
    assert nexts("0 5,10 8 * * *", 2) == ["2024-01-02 08:05:00 Tue", "2024-01-02 08:10:00 Tue"]
    assert nexts("0 50/5 * * * *", 3) == [
        "2024-01-01 10:50:00 Mon",
        "2024-01-01 10:55:00 Mon",
        "2024-01-01 11:50:00 Mon",
    ]


def test_names_are_case_insensitive_prefixes() -> None:
    assert nexts("0 30 9 * Jan Mon", 2) == ["2024-01-08 09:30:00 Mon", "2024-01-15 09:30:00 Mon"]
    assert nexts("0 30 9 * january MONDAY", 1) == ["2024-01-08 09:30:00 Mon"]
    assert nexts("0 0 12 * * sun,sat", 2) == ["2024-01-06 12:00:00 Sat", "2024-01-07 12:00:00 Sun"]
    assert str(parse_schedule("0 0 0 * Jun-Aug Tu")) == "Cron: '0 0 0 * 6-8 2'"


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    # NCrontab: 13th AND Friday (Vixie cron would fire on every 13th and every Friday)
    assert nexts("0 0 0 13 * 5", 2) == ["2024-09-13 00:00:00 Fri", "2024-12-13 00:00:00 Fri"]


def test_month_ends_and_leap_days() -> None:
    assert nexts("0 0 0 31 * *", 3) == [
        "2024-01-31 00:00:00 Wed",
        "2024-03-31 00:00:00 Sun",
        "2024-05-31 00:00:00 Fri",
    ]
    assert nexts("0 0 0 29 2 *", 2) == ["2024-02-29 00:00:00 Thu", "2028-02-29 00:00:00 Tue"]
    assert nexts("0 0 0 29 Feb Mon", 1) == ["2044-02-29 00:00:00 Mon"]


def test_rollover_at_year_end() -> None:
    assert nexts("0 0 0 1 1 *", 1, datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)) == [
        "2025-01-01 00:00:00 Wed"
    ]
    assert nexts("59 59 23 31 12 *", 1, datetime(2024, 6, 1, tzinfo=UTC)) == ["2024-12-31 23:59:59 Tue"]


def test_next_is_strictly_after_now() -> None:
    on_the_dot = datetime(2024, 1, 1, 10, 5, tzinfo=UTC)
    assert nexts("0 */5 * * * *", 1, on_the_dot) == ["2024-01-01 10:10:00 Mon"]


def test_reversed_range_is_swapped_like_ncrontab() -> None:
    assert str(parse_schedule("0 0 17-9 * * *")) == "Cron: '0 0 9-17 * * *'"
    # so "sat-sun" (6-0) is every day, as on Azure
    assert str(parse_schedule("0 0 12 * * sat-sun")) == "Cron: '0 0 12 * * *'"


@pytest.mark.parametrize(
    ("expr", "expanded"),
    [
        ("0 */5 * * * *", "0 0,5,10,15,20,25,30,35,40,45,50,55 * * * *"),
        ("0 0,30 * * * *", "0 0,30 * * * *"),
        ("*/1 * * * * *", "* * * * * *"),
        ("0 0 9-17 * * 1-5", "0 0 9-17 * * 1-5"),
        ("0 0 1,2,3,7 * * *", "0 0 1-3,7 * * *"),
        ("0 30 9 * Jan Mon", "0 30 9 * 1 1"),
    ],
)
def test_printed_as_the_host_prints_it(expr: str, expanded: str) -> None:
    assert str(parse_schedule(expr)) == f"Cron: '{expanded}'"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * *", "has 6 fields (second minute hour day month day-of-week) or 5 (no seconds); '* * *' has 3"),
        ("* * * * * * *", "'* * * * * * *' has 7"),
        ("60 * * * * *", "field 1 (second) '60': 60 is out of range: a second is 0-59"),
        ("0 60 * * * *", "field 2 (minute) '60': 60 is out of range: a minute is 0-59"),
        ("0 0 24 * * *", "field 3 (hour) '24': 24 is out of range: a hour is 0-23"),
        ("0 0 0 0 * *", "field 4 (day) '0': 0 is out of range: a day is 1-31"),
        ("0 0 0 * 13 *", "field 5 (month) '13': 13 is out of range: a month is 1-12"),
        ("0 0 0 * * 7", "field 6 (day of week) '7': 7 is out of range: a day of week is 0-6"),
        ("60 * * * *", "field 1 (minute) '60'"),
        ("0 */0 * * * *", "the step in '*/0' is 0"),
        ("0 */x * * * *", "the step in '*/x' must be a whole number"),
        ("0 /5 * * * *", "'/5' has no start before '/'; write */5"),
        ("0 1-2-3 * * * *", "'2-3' is not a number"),
        ("0 5- * * * *", "'5-' is not a range"),
        ("0 1,,2 * * * *", "an empty value in a list"),
        ("0 x * * * *", "'x' is not a number between 0 and 59"),
        ("0 0 0 * * Funday", "'Funday' is not a day of week name"),
        ("0 0 0 * Smarch *", "'Smarch' is not a month name"),
        ("0 0 0 30 2 *", "never fires: no month in its month field (February) has a day 30"),
        ("0 0 0 31 4,6 *", "never fires"),
        ("", "the schedule is empty"),
        ("25:00:00", "'25:00:00' is not a TimeSpan: write hh:mm:ss"),
        ("00:61:00", "is not a TimeSpan"),
        ("00:00:00", "must be a positive period"),
        ("-00:05:00", "must be a positive period"),
    ],
)
def test_malformed_schedules_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(expr)
    assert message in str(info.value)


def test_timespan_schedules() -> None:
    every_two = parse_schedule("00:00:02")
    assert isinstance(every_two, TimeSpanSchedule)
    assert every_two.period == timedelta(seconds=2)
    assert str(every_two) == "Constant: 00:00:02"
    assert str(parse_schedule("1.02:03:04")) == "Constant: 1.02:03:04"
    assert str(parse_schedule("00:05")) == "Constant: 00:05:00"  # hh:mm
    assert str(parse_schedule("2")) == "Constant: 2.00:00:00"  # TimeSpan.Parse reads a lone number as days
    assert [o - NOW for o in next_occurrences(every_two, 3, NOW, UTC)] == [
        timedelta(seconds=s) for s in (2, 4, 6)
    ]


def test_monitor_is_off_for_schedules_more_frequent_than_a_minute() -> None:
    assert uses_monitor(parse_schedule("*/2 * * * * *"), True, NOW) is False
    assert uses_monitor(parse_schedule("00:00:30"), True, NOW) is False
    assert uses_monitor(parse_schedule("0 * * * * *"), True, NOW) is True
    assert (
        uses_monitor(parse_schedule("* 30 * * * *"), True, NOW) is True
    )  # the host looks only at the fields
    assert uses_monitor(parse_schedule("00:01:00"), True, NOW) is True
    assert uses_monitor(parse_schedule("0 0 * * * *"), False, NOW) is False


def test_occurrence_lines_in_utc_and_in_a_time_zone() -> None:
    hourly = parse_schedule("0 0 * * * *")
    assert format_occurrences(next_occurrences(hourly, 2, NOW, UTC), UTC) == [
        "01/01/2024 11:00:00Z",
        "01/01/2024 12:00:00Z",
    ]
    assert format_occurrences(next_occurrences(hourly, 1, NOW, LA), LA) == [
        "01/01/2024 03:00:00-08:00 (01/01/2024 11:00:00Z)"
    ]


def test_wall_clock_of_the_time_zone() -> None:
    daily = parse_schedule("0 30 9 * * *")
    (first,) = next_occurrences(daily, 1, NOW, LA)
    assert first.astimezone(UTC) == datetime(2024, 1, 1, 17, 30, tzinfo=UTC)


def test_fall_back_interval_schedule_runs_through_the_repeated_hour() -> None:
    start = datetime(2018, 11, 4, 7, 0, tzinfo=UTC)  # 00:00 PDT, the day clocks go back at 02:00
    got = [o.isoformat() for o in next_occurrences(parse_schedule("0 */30 * * * *"), 6, start, LA)]
    assert got == [
        "2018-11-04T00:30:00-07:00",
        "2018-11-04T01:00:00-07:00",
        "2018-11-04T01:30:00-07:00",
        "2018-11-04T01:00:00-08:00",
        "2018-11-04T01:30:00-08:00",
        "2018-11-04T02:00:00-08:00",
    ]


def test_fall_back_point_in_time_schedule_runs_once() -> None:
    start = datetime(2018, 11, 4, 7, 0, tzinfo=UTC)
    got = [o.isoformat() for o in next_occurrences(parse_schedule("0 30 1 * * *"), 2, start, LA)]
    assert got == ["2018-11-04T01:30:00-07:00", "2018-11-05T01:30:00-08:00"]
    # starting in the repeated hour, after the first 01:30: the second 01:30 is skipped
    during = datetime(2018, 11, 4, 9, 29, tzinfo=UTC)  # 01:29 PST
    assert parse_schedule("0 30 1 * * *").next_after(during, LA).isoformat() == "2018-11-05T01:30:00-08:00"


def test_spring_forward_gap_moves_to_the_real_clock() -> None:
    start = datetime(2018, 3, 10, 12, 0, tzinfo=UTC)
    got = [o.isoformat() for o in next_occurrences(parse_schedule("0 30 2 * * *"), 2, start, LA)]
    assert got == ["2018-03-11T03:30:00-07:00", "2018-03-12T02:30:00-07:00"]


def test_time_zone_settings() -> None:
    assert resolve_time_zone(None, None) == (UTC, None)
    assert resolve_time_zone("Europe/Paris", "America/New_York")[0] == ZoneInfo("Europe/Paris")
    assert resolve_time_zone(None, "America/New_York")[0] == ZoneInfo("America/New_York")
    tz, warning = resolve_time_zone(None, "Mars/Olympus")
    assert tz is UTC and warning is not None and "TZ 'Mars/Olympus'" in warning
    with pytest.raises(ScheduleError, match=r"WEBSITE_TIME_ZONE 'Eastern Standard Time'.*IANA name"):
        resolve_time_zone("Eastern Standard Time", None)


def test_host_datetime_formats() -> None:
    assert json_datetime(None, UTC) == "0001-01-01T00:00:00+00:00"
    assert json_datetime(datetime(2024, 1, 1, 10, 0, tzinfo=UTC), UTC) == "2024-01-01T10:00:00+00:00"
    assert (
        json_datetime(datetime(2024, 1, 1, 10, 0, 0, 120000, tzinfo=UTC), UTC)
        == "2024-01-01T10:00:00.12+00:00"
    )
    assert json_datetime(datetime(2024, 1, 1, 10, 0, tzinfo=UTC), LA) == "2024-01-01T02:00:00-08:00"
    assert datetime_o_local(NOW, UTC) == "2024-01-01T10:02:03.5000000+00:00"


def test_cron_schedule_is_a_value() -> None:
    a = CronSchedule.parse("0 */5 * * * *")
    assert a == CronSchedule.parse("0 */5 * * * *") and a.has_seconds and a.is_interval
    assert not CronSchedule.parse("0 30 9 * * *").is_interval
