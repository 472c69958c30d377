"""Binding expressions: `%Setting%` and `{binding.data}` resolution as the Functions host does it."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final, TypeVar

from funchost.dotnet import DAY_NAMES, MONTH_NAMES

__all__ = [
    "BindingData",
    "CaseSensitive",
    "ExpressionError",
    "SystemBindingData",
    "Template",
    "add_system_data",
    "format_value",
    "has_expressions",
    "json_binding_data",
    "resolve",
    "resolve_settings",
    "system_data",
]

V = TypeVar("V")
SettingLookup = Callable[[str], str | None]


class ExpressionError(ValueError):
    """A binding expression could not be parsed or resolved."""


# --------------------------------------------------------------------------- mappings


class CaseSensitive(Mapping[str, V]):
    """Read-only view whose keys match exactly in `{a.b}` path steps (like the host's `Query`)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, V] | None = None) -> None:
        self._data: dict[str, V] = dict(data or {})

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"CaseSensitive({self._data!r})"


class BindingData(MutableMapping[str, Any]):
    """Dict with case-insensitive keys that keeps the casing of the last write."""

    __slots__ = ("_store",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._store: dict[str, tuple[str, Any]] = {}
        if data:
            self.update(data)

    def __getitem__(self, key: str) -> Any:
        return self._store[key.lower()][1]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key.lower()] = (key, value)

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return f"BindingData({dict(self.items())!r})"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SystemBindingData(Mapping[str, Any]):
    """The `sys` object: `MethodName`, `UtcNow` and `RandGuid`, computed only when read."""

    __slots__ = ("_clock", "method_name")
    _KEYS: Final = ("MethodName", "UtcNow", "RandGuid")

    def __init__(self, method_name: str, clock: Callable[[], datetime] = _utcnow) -> None:
        self.method_name = method_name
        self._clock = clock

    def __getitem__(self, key: str) -> Any:
        k = key.lower()
        if k == "methodname":
            return self.method_name
        if k == "utcnow":
            return self._clock()
        if k == "randguid":
            return uuid.uuid4()
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)

    def __repr__(self) -> str:
        return f"SystemBindingData(method_name={self.method_name!r})"


def system_data(method_name: str) -> dict[str, Any]:
    """The host's built-in binding data (`sys`) for one function; nothing is generated until read."""
    return {"sys": SystemBindingData(method_name)}


def add_system_data(data: MutableMapping[str, Any], method_name: str) -> None:
    """Add `sys` to `data` unless the trigger already supplied a `sys` (user data wins)."""
    if not _has_key(data, "sys"):
        data["sys"] = SystemBindingData(method_name)


# --------------------------------------------------------------------------- %Setting%


def resolve_settings(text: str, lookup: SettingLookup) -> str:
    """Replace every `%Name%` in `text` with the setting `lookup(Name)`."""
    start = text.find("%")
    if start < 0:
        return text
    out: list[str] = []
    pos = 0
    while start >= 0:
        end = text.find("%", start + 1)
        if end < 0:
            raise ExpressionError(
                f"The '%' at position {start} does not have a closing '%'. "
                f"In '{text}', write app setting references as '%SettingName%'."
            )
        name = text[start + 1 : end]
        value = lookup(name) if name else None
        if value is None:
            raise ExpressionError(
                f"'%{name}%' does not resolve to a value. Add '{name}' to Values in "
                "local.settings.json or set it as an environment variable."
            )
        out.append(text[pos:start])
        out.append(value)
        pos = end + 1
        start = text.find("%", pos)
    out.append(text[pos:])
    return "".join(out)


def has_expressions(text: str) -> bool:
    """True when `text` needs resolving (contains `%`, `{` or `}`); literals can skip all work."""
    return "%" in text or "{" in text or "}" in text


def resolve(text: str, data: Mapping[str, Any], lookup: SettingLookup) -> str:
    """Resolve `%Setting%` references, then bind the `{...}` template against `data`."""
    if not has_expressions(text):
        return text
    return _compile_cached(resolve_settings(text, lookup)).render(data)


# --------------------------------------------------------------------------- {template}

_MISSING: Final = object()
_NAME_FIRST = re.compile(r"[^\W\d]\w*\Z")  # letter or '_', then letters, digits, '_'
_PATH_STEP = re.compile(r"[\w\-]+\Z")  # later steps may also contain '-' (header names)
_BUILTINS: Final = ("rand-guid", "datetime")


class _Expr:
    """One compiled `{...}` token."""

    __slots__ = ("builtin", "fmt", "head", "head_lower", "steps", "text")

    def __init__(self, text: str, head: str, steps: tuple[str, ...], fmt: str | None, builtin: str | None):
        self.text = text
        self.head = head
        self.head_lower = head.lower()
        self.steps = steps
        self.fmt = fmt
        self.builtin = builtin

    def evaluate(self, data: Mapping[str, Any]) -> str:
        if self.builtin is not None:
            # Like the host: the whole token (format included) is looked up in the data first.
            value = _lookup_top(data, self.head, self.head_lower)
            if value is not _MISSING:
                return format_value(value, None)
            if self.builtin == "datetime":
                return format_value(_utcnow(), self.fmt)
            return format_value(uuid.uuid4(), self.fmt)
        current = _lookup_top(data, self.head, self.head_lower)
        if current is _MISSING:
            if self.head_lower == "sys":
                current = _FALLBACK_SYS
            else:
                raise ExpressionError(
                    f"No value for named parameter '{self.head}'. The expression '{{{self.text}}}' needs "
                    f"'{self.head}' in the trigger's binding data (for HTTP: a route parameter, a query "
                    "parameter or a top-level JSON body property); check the name or send that value."
                )
        for step in self.steps:
            current = _step(current, step)
        return format_value(current, self.fmt)


_FALLBACK_SYS: Final = SystemBindingData("")


def _has_key(data: Mapping[str, Any], key: str) -> bool:
    return _lookup_top(data, key, key.lower()) is not _MISSING


def _lookup_top(data: Mapping[str, Any], key: str, key_lower: str) -> Any:
    if type(data) is BindingData:
        hit = data._store.get(key_lower)
        return _MISSING if hit is None else hit[1]
    return _lookup_ci(data, key, key_lower)


def _lookup_ci(data: Mapping[str, Any], key: str, key_lower: str) -> Any:
    if isinstance(data, SystemBindingData | BindingData):
        try:
            return data[key]
        except KeyError:
            return _MISSING
    if key in data:
        return data[key]
    for k in data:
        if k.lower() == key_lower:
            return data[k]
    return _MISSING


def _step(current: Any, prop: str) -> Any:
    """One `.prop` step: case-sensitive for `CaseSensitive`, case-insensitive otherwise."""
    if isinstance(current, CaseSensitive):
        value: Any = current.get(prop, _MISSING)
    elif isinstance(current, Mapping):
        value = _lookup_ci(current, prop, prop.lower())
    elif current is None or isinstance(current, str | int | float | bool | list | tuple | bytes):
        value = _MISSING
    else:
        value = _attribute(current, prop)
    if value is _MISSING:
        raise ExpressionError(
            f"Error while accessing '{prop}': property doesn't exist. Check the spelling of '{prop}' "
            "in the binding expression and that the trigger data contains it."
        )
    return value


def _attribute(obj: Any, prop: str) -> Any:
    if not prop.startswith("_") and hasattr(obj, prop):
        return getattr(obj, prop)
    lower = prop.lower()
    for name in dir(obj):
        if not name.startswith("_") and name.lower() == lower:
            return getattr(obj, name)
    return _MISSING


class Template:
    """A parsed `{...}` binding template; compile once, render per invocation."""

    __slots__ = ("_parts", "parameter_names", "text")

    def __init__(self, text: str, parts: tuple[str | _Expr, ...]) -> None:
        self.text = text
        self._parts = parts
        self.parameter_names: tuple[str, ...] = tuple(
            p.head for p in parts if isinstance(p, _Expr) and p.builtin is None
        )
        """Top-level binding-data names the template reads, in order (built-ins excluded)."""

    @classmethod
    def compile(cls, text: str) -> Template:
        """Parse `text`; `{{` and `}}` are literal braces."""
        return cls(text, tuple(_parse(text)))

    @property
    def is_literal(self) -> bool:
        """True when the template has no `{...}` expression."""
        return all(isinstance(p, str) for p in self._parts)

    def render(self, data: Mapping[str, Any]) -> str:
        """Bind the template against `data` (top-level names match case-insensitively)."""
        parts = self._parts
        if len(parts) == 1:
            p = parts[0]
            return p if isinstance(p, str) else p.evaluate(data)
        return "".join(p if isinstance(p, str) else p.evaluate(data) for p in parts)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


_compile_cached = lru_cache(maxsize=2048)(Template.compile)


def _parse(text: str) -> Iterator[str | _Expr]:
    i, n = 0, len(text)
    literal: list[str] = []
    while i < n:
        c = text[i]
        if c in "{}" and text.startswith(c * 2, i):
            literal.append(c)
            i += 2
        elif c == "{":
            close = _next_brace(text, i + 1)
            if close < 0 or text[close] == "{":
                raise ExpressionError(
                    f"Invalid template '{text}'. Missing closing bracket at position {i + 1}. "
                    "Close the expression with '}', or write '{{' for a literal '{'."
                )
            if literal:
                yield "".join(literal)
                literal.clear()
            yield _compile_expr(text, text[i + 1 : close], i + 1)
            i = close + 1
        elif c == "}":
            raise ExpressionError(
                f"Invalid template '{text}'. Missing opening bracket at position {i + 1}. "
                "Write '}}' for a literal '}'."
            )
        else:
            end = _next_brace(text, i)
            end = n if end < 0 else end
            literal.append(text[i:end])
            i = end
    if literal:
        yield "".join(literal)


def _next_brace(text: str, start: int) -> int:
    a, b = text.find("{", start), text.find("}", start)
    if a < 0:
        return b
    return a if b < 0 else min(a, b)


def _compile_expr(template: str, expr: str, position: int) -> _Expr:
    if not expr:
        raise ExpressionError(
            f"Invalid template '{template}'. The parameter name at position {position} is empty. "
            "Put a binding data name between the braces, e.g. '{id}'."
        )
    name, colon, fmt = expr.partition(":")
    lower = name.lower()
    if lower in _BUILTINS:
        return _Expr(expr, expr, (), fmt if colon else None, lower)
    parts = name.split(".")
    if not _NAME_FIRST.match(parts[0]) or not all(_PATH_STEP.match(p) for p in parts[1:]):
        raise ExpressionError(
            f"Invalid template '{template}'. The parameter name '{name}' is invalid. Use a name such as "
            "'{id}', a dotted path such as '{Query.id}', optionally followed by ':format'."
        )
    return _Expr(expr, parts[0], tuple(parts[1:]), fmt if colon else None, None)


# --------------------------------------------------------------------------- value -> string


def format_value(value: Any, fmt: str | None = None) -> str:
    """Convert a binding-data value to text as the host does (`fmt` is a .NET format string)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value) if not fmt else _format_number(value, fmt)
    if isinstance(value, float):
        return _format_double(value) if not fmt else _format_number(value, fmt)
    if isinstance(value, Decimal):
        return str(value) if not fmt else _format_number(value, fmt)
    if isinstance(value, uuid.UUID):
        return _format_guid(value, fmt)
    if isinstance(value, datetime):
        return _format_datetime(value, fmt or _DEFAULT_DATETIME_FORMAT)
    if isinstance(value, date):
        return _format_datetime(datetime(value.year, value.month, value.day), fmt or _DEFAULT_DATETIME_FORMAT)
    return ""  # JSON objects/arrays and other objects bind as null


def _format_double(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    neg = "-" if sign else ""
    if not stripped:
        return neg + "0"
    scale = len(digits) + exp  # position of the decimal point relative to the first digit
    digits = stripped
    if scale > max(len(digits), 15) or scale < -3:
        e = scale - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}E{'+' if e >= 0 else '-'}{abs(e):02d}"
    if scale <= 0:
        return f"{neg}0.{'0' * -scale}{digits}"
    if scale >= len(digits):
        return neg + digits + "0" * (scale - len(digits))
    return f"{neg}{digits[:scale]}.{digits[scale:]}"


_NUMBER_FORMAT = re.compile(r"([DdXxFfNnEe])(\d{0,2})\Z")


def _format_number(value: int | float | Decimal, fmt: str) -> str:
    m = _NUMBER_FORMAT.match(fmt)
    if m:
        kind, prec_text = m.group(1), m.group(2)
        prec = int(prec_text) if prec_text else None
        upper = kind.upper()
        if upper in "DX" and isinstance(value, int):
            if upper == "D":
                body = str(abs(value)).rjust(prec or 0, "0")
                return ("-" if value < 0 else "") + body
            body = format(value & ((1 << max(64, value.bit_length() + 1)) - 1) if value < 0 else value, "x")
            body = body.rjust(prec or 0, "0")
            return body.upper() if kind == "X" else body
        if upper == "F":
            return format(value, f".{2 if prec is None else prec}f")
        if upper == "N":
            return format(value, f",.{2 if prec is None else prec}f")
        if upper == "E":
            text = format(value, f".{6 if prec is None else prec}e")
            mantissa, _, exp = text.partition("e")
            return f"{mantissa}{kind}{exp[0]}{int(exp[1:]):03d}"
    raise ExpressionError(
        f"The format '{fmt}' is not supported for the number {value!r}. "
        "Use D<n> or X<n> (integers), F<n>, N<n> or E<n>, e.g. '{count:D4}'."
    )


def _format_guid(value: uuid.UUID, fmt: str | None) -> str:
    h = value.hex
    d = str(value)
    match (fmt or "D").upper():
        case "D":
            return d
        case "N":
            return h
        case "B":
            return "{" + d + "}"
        case "P":
            return "(" + d + ")"
        case "X":
            rest = ",".join(f"0x{h[i : i + 2]}" for i in range(16, 32, 2))
            return f"{{0x{h[:8]},0x{h[8:12]},0x{h[12:16]},{{{rest}}}}}"
    raise ExpressionError(
        f"The format '{fmt}' is not supported for a Guid. Use N, D, B, P or X, e.g. '{{id:N}}'."
    )


_DEFAULT_DATETIME_FORMAT: Final = "yyyy-MM-ddTHH-mm-ssK"
_STANDARD_DATETIME: Final = {
    "d": "MM/dd/yyyy",
    "D": "dddd, dd MMMM yyyy",
    "f": "dddd, dd MMMM yyyy HH:mm",
    "F": "dddd, dd MMMM yyyy HH:mm:ss",
    "g": "MM/dd/yyyy HH:mm",
    "G": "MM/dd/yyyy HH:mm:ss",
    "m": "MMMM dd",
    "M": "MMMM dd",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
    "t": "HH:mm",
    "T": "HH:mm:ss",
    "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "y": "yyyy MMMM",
    "Y": "yyyy MMMM",
}


def _offset_text(dt: datetime, with_minutes: bool = True, pad: bool = True) -> str:
    off = dt.utcoffset() or timedelta(0)
    total = int(off.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    h = f"{hours:02d}" if pad else str(hours)
    return f"{sign}{h}:{minutes:02d}" if with_minutes else f"{sign}{h}"


def _format_datetime(dt: datetime, fmt: str) -> str:
    if len(fmt) == 1:
        if fmt not in _STANDARD_DATETIME:
            raise ExpressionError(
                f"The date format '{fmt}' is not a standard .NET date format. "
                "Use a custom format such as 'yyyy-MM-dd' or one of d D f F g G M O R s t T u Y."
            )
        if fmt in "rRu" and dt.utcoffset() is not None:
            dt = dt.astimezone(UTC)
        fmt = _STANDARD_DATETIME[fmt]
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c in "'\"":
            end = fmt.find(c, i + 1)
            if end < 0:
                raise ExpressionError(
                    f"The date format '{fmt}' has an unterminated quote at position {i + 1}."
                )
            out.append(fmt[i + 1 : end])
            i = end + 1
            continue
        if c == "\\" and i + 1 < n:
            out.append(fmt[i + 1])
            i += 2
            continue
        if c == "%" and i + 1 < n:
            i += 1
            continue
        j = i
        while j < n and fmt[j] == c:
            j += 1
        count = j - i
        i = j
        out.append(_datetime_part(dt, c, count))
    return "".join(out)


def _datetime_part(dt: datetime, c: str, count: int) -> str:
    match c:
        case "y":
            return str(dt.year % 100).rjust(count, "0") if count <= 2 else str(dt.year).rjust(count, "0")
        case "M":
            if count <= 2:
                return str(dt.month).rjust(count, "0")
            month = MONTH_NAMES[dt.month - 1]
            return month[:3] if count == 3 else month
        case "d":
            if count <= 2:
                return str(dt.day).rjust(count, "0")
            day = DAY_NAMES[(dt.weekday() + 1) % 7]
            return day[:3] if count == 3 else day
        case "H":
            return str(dt.hour).rjust(min(count, 2), "0")
        case "h":
            return str(dt.hour % 12 or 12).rjust(min(count, 2), "0")
        case "m":
            return str(dt.minute).rjust(min(count, 2), "0")
        case "s":
            return str(dt.second).rjust(min(count, 2), "0")
        case "f" | "F":
            if count > 7:
                raise ExpressionError(f"The date format has {count} '{c}' specifiers; the maximum is 7.")
            frac = f"{dt.microsecond:06d}0"[:count]
            return frac if c == "f" else frac.rstrip("0")
        case "t":
            ampm = "AM" if dt.hour < 12 else "PM"
            return ampm[0] if count == 1 else ampm
        case "K":
            if dt.tzinfo is None:
                return ""
            return "Z" if dt.utcoffset() == timedelta(0) else _offset_text(dt)
        case "z":
            return _offset_text(dt, with_minutes=count >= 3, pad=count >= 2)
        case "g":
            return "A.D."
        case _:
            return c * count


# --------------------------------------------------------------------------- JSON trigger data


def json_binding_data(payload: str | bytes) -> BindingData:
    """Top-level properties of a JSON object trigger value (arrays skipped, scalars as text)."""
    return BindingData(json_body_properties(payload))


def json_body_properties(payload: str | bytes) -> dict[str, Any]:
    try:
        text = (payload.decode("utf-8-sig") if isinstance(payload, bytes) else payload).strip()
    except UnicodeDecodeError:
        return {}
    if not (text.startswith("{") and text.endswith("}")):
        return {}  # an array or non-JSON body adds no binding data
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    props: dict[str, Any] = {}
    for key, value in parsed.items():
        if isinstance(value, list):
            continue
        props[key] = value if isinstance(value, dict) or value is None else _json_scalar(value)
    return props


def _json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return _format_double(value)
    return str(value)
