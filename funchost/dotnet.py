""".NET compatibility in one place: TimeSpan, TryParse, number/date formats and UTF-16 lengths.

The Functions host and its extensions are .NET programs; where a Python app (or a plugin) sees a value they
produced or parsed, these helpers make funchost produce and parse it the same way. Plain functions, no state.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

__all__ = [
    "DAY_NAMES",
    "INT32",
    "INT64",
    "MONTH_NAMES",
    "TIMESPAN_MAX_TEXT",
    "datetime_o",
    "datetime_roundtrip",
    "format_timespan",
    "parse_timespan",
    "try_bool",
    "try_decimal",
    "try_float",
    "try_int",
    "utf16_len",
]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
TIMESPAN_MAX_TEXT = "10675199.02:48:05.4775807"
_DECIMAL_MAX = Decimal(79228162514264337593543950335)

# --- TryParse (invariant culture) ------------------------------------------------------------------------

_WS = "[\\t-\\r ]*"  # NumberStyles AllowLeading/TrailingWhite: U+0009..U+000D and space
_NUM = r"(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)"  # AllowThousands + AllowDecimalPoint
_INT_RE = re.compile(_WS + r"[+-]?[0-9]+" + _WS)
_DECIMAL_RE = re.compile(_WS + r"([+-]?)(" + _NUM + r")([+-]?)" + _WS)
_FLOAT_RE = re.compile(
    _WS + r"[+-]?(?:" + _NUM + r"(?:[eE][+-]?[0-9]+)?|infinity|∞|nan)" + _WS, re.IGNORECASE
)


def try_int(text: str | None, bounds: tuple[int, int] = INT32) -> int | None:
    """``int.TryParse`` / ``long.TryParse`` (NumberStyles.Integer): None when absent, malformed or out of range."""
    if text is None or _INT_RE.fullmatch(text) is None:
        return None
    number = int(text)
    return number if bounds[0] <= number <= bounds[1] else None


def try_float(text: str | None) -> float | None:
    """``double.TryParse`` (Float | AllowThousands): None when absent or malformed."""
    if text is None or _FLOAT_RE.fullmatch(text) is None:
        return None
    core = text.strip(" \t\n\v\f\r").replace(",", "").replace("∞", "inf")
    return float(core)


def try_decimal(text: str | None) -> Decimal | None:
    """``decimal.TryParse`` (NumberStyles.Number): a leading or a trailing sign, thousands, no exponent."""
    m = None if text is None else _DECIMAL_RE.fullmatch(text)
    if m is None or (m.group(1) and m.group(3)):
        return None
    try:
        value = Decimal(m.group(2).replace(",", "") or "0")
    except InvalidOperation:
        return None
    if abs(value) > _DECIMAL_MAX:
        return None
    return -value if "-" in (m.group(1), m.group(3)) else value


def try_bool(text: str | None) -> bool | None:
    """``bool.TryParse``: "true"/"false" in any case, surrounding white space and NULs ignored."""
    if text is None:
        return None
    word = text.strip().strip("\0").strip().lower()
    return {"true": True, "false": False}.get(word)


# --- TimeSpan -------------------------------------------------------------------------------------------

_TIMESPAN_DAYS = re.compile(r"^\s*(-)?(\d+)\s*$")
_TIMESPAN_CLOCK = re.compile(r"^\s*(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d{1,7}))?)?\s*$")


def parse_timespan(text: str) -> timedelta:
    """``TimeSpan.Parse`` (invariant): ``d``, ``hh:mm``, ``hh:mm:ss[.fffffff]``, ``d.hh:mm:ss``, signed.

    Raises ValueError (with the text) when .NET would refuse it.
    """
    match = _TIMESPAN_DAYS.match(text)
    if match:
        sign = -1 if match.group(1) else 1
        return sign * timedelta(days=int(match.group(2)))
    match = _TIMESPAN_CLOCK.match(text)
    if not match:
        raise ValueError(text)
    neg, days, hours, minutes, seconds, fraction = match.groups()
    h, m, s = int(hours), int(minutes), int(seconds or 0)
    if h > 23 or m > 59 or s > 59:
        raise ValueError(text)
    micro = int((fraction or "0").ljust(7, "0")[:6])
    span = timedelta(days=int(days or 0), hours=h, minutes=m, seconds=s, microseconds=micro)
    return -span if neg else span


def format_timespan(span: timedelta) -> str:
    """``TimeSpan.ToString()`` ("c"): ``[-][d.]hh:mm:ss[.fffffff]``."""
    sign = "-" if span < timedelta(0) else ""
    span = abs(span)
    days, rest = span.days, span.seconds
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    if days:
        text = f"{days}.{text}"
    if span.microseconds:
        text += f".{span.microseconds:06d}0"
    return sign + text


# --- DateTime -------------------------------------------------------------------------------------------

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
"""Invariant-culture month names, January first."""
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
"""Invariant-culture day names in ``DayOfWeek`` order (Sunday = 0); Python's ``weekday()`` is Monday = 0."""


def datetime_o(value: datetime) -> str:
    """``DateTime.ToString("o")`` of a UTC instant: seven fractional digits and ``Z`` (naive = UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{_date_time(value)}.{value.microsecond:06d}0Z"


def datetime_roundtrip(value: datetime | None) -> str:
    """Json.NET's DateTime text ``yyyy-MM-ddTHH:mm:ss.FFFFFFFK`` (trailing zeros dropped); None is
    ``default(DateTime)``."""
    if value is None:
        return "0001-01-01T00:00:00"
    suffix = ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
        suffix = "Z"
    text = _date_time(value)
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + suffix


def _date_time(value: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss`` (four-digit years below 1000 too, unlike ``strftime`` on Linux)."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


# --- strings --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """``string.Length`` in .NET: UTF-16 code units (a character beyond the BMP counts twice)."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
