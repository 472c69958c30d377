"""funchost.dotnet: the one place .NET parsing and formatting rules live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from funchost.dotnet import (
    INT64,
    datetime_o,
    datetime_roundtrip,
    format_timespan,
    parse_timespan,
    try_bool,
    try_decimal,
    try_float,
    try_int,
    utf16_len,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), (" -7\t", -7), ("+3", 3), ("2147483647", 2147483647), ("2147483648", None), ("1.0", None),
     ("1,000", None), ("", None), (None, None), ("0x10", None)],
)  # fmt: skip
def test_int_tryparse(text: str | None, expected: int | None) -> None:
    assert try_int(text) == expected


def test_long_bounds() -> None:
    assert try_int("9223372036854775807", INT64) == 2**63 - 1
    assert try_int("9223372036854775808", INT64) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.2", 0.2), ("1e-1", 0.1), ("1,000.5", 1000.5), (".5", 0.5), (" 3 ", 3.0), ("-Infinity", float("-inf")),
     ("warm", None), ("1.2.3", None), (None, None), ("", None)],
)  # fmt: skip
def test_float_tryparse(text: str | None, expected: float | None) -> None:
    assert try_float(text) == expected


def test_float_nan_parses_as_dotnet_does() -> None:
    value = try_float("NaN")
    assert value is not None and value != value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.50", Decimal("1.50")), ("5-", Decimal(-5)), ("-5-", None), ("1e3", None), ("79228162514264337593543950336", None)],
)  # fmt: skip
def test_decimal_tryparse(text: str, expected: Decimal | None) -> None:
    assert try_decimal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), (" FALSE\0", False), ("yes", None), ("1", None)]
)
def test_bool_tryparse(text: str, expected: bool | None) -> None:
    assert try_bool(text) is expected


@pytest.mark.parametrize(
    ("text", "span"),
    [("00:05:00", timedelta(minutes=5)), ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
     ("2", timedelta(days=2)), ("-00:00:01.5", -timedelta(seconds=1.5)), ("10:30", timedelta(hours=10, minutes=30))],
)  # fmt: skip
def test_timespan_parse_and_format_round_trip(text: str, span: timedelta) -> None:
    assert parse_timespan(text) == span
    assert parse_timespan(format_timespan(span)) == span


@pytest.mark.parametrize("text", ["24:00:00", "1:xx", "00:60:00", ""])
def test_timespan_refuses_what_dotnet_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timespan(text)


def test_timespan_format_is_the_constant_format() -> None:
    assert format_timespan(timedelta(minutes=30)) == "00:30:00"
    assert format_timespan(timedelta(days=1, seconds=1)) == "1.00:00:01"
    assert format_timespan(timedelta(milliseconds=1500)) == "00:00:01.5000000"


def test_datetime_formats_keep_four_digit_years() -> None:
    moment = datetime(2024, 5, 6, 20, 40, 48, 123400, tzinfo=UTC)
    assert datetime_o(moment) == "2024-05-06T20:40:48.1234000Z"
    assert datetime_roundtrip(moment) == "2024-05-06T20:40:48.1234Z"
    assert (
        datetime_roundtrip(datetime(2024, 5, 6, 22, 40, tzinfo=timezone(timedelta(hours=2))))
        == "2024-05-06T20:40:00Z"
    )
    assert datetime_roundtrip(None) == "0001-01-01T00:00:00"
    assert datetime_o(datetime(9, 1, 2, tzinfo=UTC)) == "0009-01-02T00:00:00.0000000Z"


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("é") == 1
    assert utf16_len("😀") == 2
