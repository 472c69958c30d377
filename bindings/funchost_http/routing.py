"""ASP.NET Core-style route templates and the first-match router of the Functions host.

Paths are matched segment by segment on the raw (still percent-encoded) URL path: the path is split on '/',
then each segment is percent-decoded except ``%2F``, which stays encoded as Kestrel leaves it, so an encoded
slash never splits a segment. Literals compare case-insensitively; parameter values are the decoded strings;
an omitted optional parameter is present with value ``None``; an omitted parameter with a default gets the
default; a catch-all with nothing to capture gets its default or ``None``. One trailing slash is tolerated
(a catch-all keeps it, as ASP.NET does). Regex constraints are searched, not anchored, exactly like ASP.NET
(``RegexRouteConstraint`` uses ``IsMatch`` with IgnoreCase): write ``^...$`` to match the whole value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

from funchost.dotnet import INT32, INT64, try_bool, try_decimal, try_float, try_int, utf16_len

__all__ = ["Route", "RouteError", "RouteParameter", "RouteTemplate", "RouteValues", "Router"]

T = TypeVar("T")
RouteValues = dict[str, str | None]
_Check = Callable[[str], bool]


class RouteError(ValueError):
    """A route template, route prefix or method list that cannot be used."""


class _Bad(Exception):
    """A template problem, before the template text is added to the message."""


# --- constraints

_HEX_D = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_GUID_RE = re.compile(
    r"\s*(?:[0-9a-f]{32}|" + _HEX_D + r"|\{" + _HEX_D + r"\}|\(" + _HEX_D + r"\)"
    r"|\{0x[0-9a-f]{1,8},0x[0-9a-f]{1,4},0x[0-9a-f]{1,4},\{0x[0-9a-f]{1,2}(?:,0x[0-9a-f]{1,2}){7}\}\})\s*",
    re.IGNORECASE | re.ASCII,
)
_ALPHA_RE = re.compile(r"[a-z]*", re.IGNORECASE | re.ASCII)
_DATETIME_FORMATS = (
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%a, %d %b %Y %H:%M:%S GMT",
    "%Y-%m",
    "%H:%M",
    "%H:%M:%S",
)
_KNOWN = (
    "int, long, bool, guid, alpha, datetime, decimal, double, float, min(n), max(n), range(a,b), length(n), "
    "length(a,b), minlength(n), maxlength(n), regex(pattern), required"
)


def _is_datetime(value: str) -> bool:
    """Whether the value reads as a date/time in ISO 8601 or a common invariant-culture form."""
    text = value.strip()
    if ("-" in text or ":" in text) and not text.startswith("-"):
        try:
            datetime.fromisoformat(text)
            return True
        except ValueError:
            pass
    for fmt in _DATETIME_FORMATS:
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


_SIMPLE_CHECKS: dict[str, _Check] = {
    "int": lambda v: try_int(v, INT32) is not None,
    "long": lambda v: try_int(v, INT64) is not None,
    "bool": lambda v: try_bool(v) is not None,
    "guid": lambda v: _GUID_RE.fullmatch(v) is not None,
    "alpha": lambda v: _ALPHA_RE.fullmatch(v) is not None,
    "datetime": _is_datetime,
    "decimal": lambda v: try_decimal(v) is not None,
    "double": lambda v: try_float(v) is not None,
    "float": lambda v: try_float(v) is not None,
    "required": lambda v: v != "",
}
# name -> (fewest args, most args, example)
_INT_ARG_CHECKS: dict[str, tuple[int, int, str]] = {
    "min": (1, 1, "min(1)"),
    "max": (1, 1, "max(100)"),
    "range": (2, 2, "range(1,100)"),
    "length": (1, 2, "length(8) or length(1,20)"),
    "minlength": (1, 1, "minlength(1)"),
    "maxlength": (1, 1, "maxlength(20)"),
}


def _int_args(name: str, args: str | None, param: str) -> list[int]:
    """Integer arguments of a numeric constraint, validated."""
    low, high, example = _INT_ARG_CHECKS[name]
    raw = [] if args is None or not args.strip() else [a.strip() for a in args.split(",")]
    if not low <= len(raw) <= high:
        count = f"{low}" if low == high else f"{low} or {high}"
        raise _Bad(
            f"constraint '{name}' on parameter '{param}' needs {count} integer argument(s), "
            f"got {len(raw)}; write it like {example}"
        )
    numbers: list[int] = []
    for arg in raw:
        if re.fullmatch(r"[+-]?[0-9]+", arg) is None or not INT64[0] <= int(arg) <= INT64[1]:
            raise _Bad(
                f"argument '{arg}' of constraint '{name}({args})' on parameter '{param}' "
                f"is not a 64-bit integer; "
                f"write it like {example}"
            )
        numbers.append(int(arg))
    if name.endswith("length") and any(n < 0 for n in numbers):
        raise _Bad(f"constraint '{name}({args})' on parameter '{param}' has a negative length; use 0 or more")
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        raise _Bad(
            f"constraint '{name}({args})' on parameter '{param}' has its lower bound above its upper bound; "
            f"swap them"
        )
    return numbers


def _numeric_check(name: str, numbers: list[int]) -> _Check:
    """The check for min/max/range/length/minlength/maxlength."""
    a = numbers[0]
    b = numbers[-1]
    if name == "min":
        return lambda v: (n := try_int(v, INT64)) is not None and n >= a
    if name == "max":
        return lambda v: (n := try_int(v, INT64)) is not None and n <= a
    if name == "range":
        return lambda v: (n := try_int(v, INT64)) is not None and a <= n <= b
    if name == "minlength":
        return lambda v: utf16_len(v) >= a
    if name == "maxlength":
        return lambda v: utf16_len(v) <= a
    return lambda v: a <= utf16_len(v) <= b


def _python_regex(pattern: str) -> str:
    """A .NET regex rewritten for Python's re: named groups (?<n>...) and the \\z anchor."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append("\\Z" if pattern[i + 1] == "z" else pattern[i : i + 2])
            i += 2
            continue
        if pattern.startswith("(?<", i) and i + 3 < len(pattern) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _make_constraint(name: str, args: str | None, param: str) -> tuple[str, _Check]:
    """The text and compiled check of one inline constraint."""
    key = name.lower()
    text = name if args is None else f"{name}({args})"
    if key == "regex":
        if not args:
            raise _Bad(
                f"constraint 'regex' on parameter '{param}' has no pattern; write it like regex(^[a-z]+$)"
            )
        try:
            compiled = re.compile(_python_regex(args), re.IGNORECASE)
        except re.error as exc:
            raise _Bad(
                f"constraint '{text}' on parameter '{param}' is not a valid regular expression ({exc}); "
                f"fix the pattern, writing '{{{{' and '}}}}' for literal braces"
            ) from None
        return text, lambda v: compiled.search(v) is not None
    if key in _SIMPLE_CHECKS:
        if args is not None:
            raise _Bad(f"constraint '{key}' on parameter '{param}' takes no arguments; write it as '{key}'")
        return text, _SIMPLE_CHECKS[key]
    if key in _INT_ARG_CHECKS:
        return text, _numeric_check(key, _int_args(key, args, param))
    if not name:
        raise _Bad(
            f"parameter '{param}' has an empty constraint after ':'; remove the ':' or name a constraint"
        )
    raise _Bad(f"unknown constraint '{name}' on parameter '{param}'; use one of: {_KNOWN}")


# --- parsing


@dataclass(frozen=True, slots=True)
class RouteParameter:
    """One parameter of a route template, as written."""

    name: str
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: tuple[str, ...] = ()


class _Param:
    """A parameter with its compiled constraint checks."""

    __slots__ = ("checks", "info", "name", "source")

    def __init__(self, info: RouteParameter, checks: tuple[_Check, ...], source: str) -> None:
        self.source = source
        self.info = info
        self.name = info.name
        self.checks = checks

    def accepts(self, value: str) -> bool:
        """Whether every constraint accepts the value."""
        return all(check(value) for check in self.checks)


@dataclass(frozen=True, slots=True)
class _ParamText:
    """The unescaped text between a parameter's braces, and where it started."""

    text: str
    position: int


def _scan(template: str) -> list[list[str | _ParamText]]:
    """Split a template into segments of literal text and raw parameters, resolving '{{' and '}}'."""
    segments: list[list[str | _ParamText]] = [[]]
    literal: list[str] = []

    def flush() -> None:
        if literal:
            segments[-1].append("".join(literal))
            literal.clear()

    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch in "{}" and template.startswith(ch * 2, i):
            literal.append(ch)
            i += 2
        elif ch == "/":
            flush()
            segments.append([])
            i += 1
        elif ch == "}":
            raise _Bad(f"unmatched '}}' at position {i}; remove it, or write '}}}}' for a literal '}}'")
        elif ch == "{":
            flush()
            start, buf = i, []
            i += 1
            while True:
                if i >= n:
                    raise _Bad(
                        f"the parameter opened at position {start} has no closing '}}'; "
                        f"close it, or write '{{{{' for a literal '{{'"
                    )
                ch = template[i]
                if ch in "{}" and template.startswith(ch * 2, i):
                    buf.append(ch)
                    i += 2
                elif ch == "}":
                    i += 1
                    break
                elif ch == "{":
                    raise _Bad(
                        f"unexpected '{{' at position {i} inside the parameter opened at position {start}; "
                        f"write '{{{{' for a literal '{{' (for example inside a regex)"
                    )
                else:
                    buf.append(ch)
                    i += 1
            segments[-1].append(_ParamText("".join(buf), start))
        else:
            literal.append(ch)
            i += 1
    flush()
    return segments


def _closing_paren(text: str, open_at: int) -> int:
    """Index of the ')' closing the '(' at open_at, skipping escapes and character classes; -1 if none."""
    depth, i, n = 0, open_at, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < n and text[i] == "^":
                i += 1
            if i < n and text[i] == "]":
                i += 1
            while i < n and text[i] != "]":
                i += 2 if text[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _parse_param(raw: _ParamText) -> _Param:
    """Parse '[*|**]name(:constraint)*(=default|?)' into a parameter."""
    text, n = raw.text, len(raw.text)
    stars = 2 if text.startswith("**") else 1 if text.startswith("*") else 0
    i = stars
    while i < n and text[i] not in ":=?":
        i += 1
    name = text[stars:i]
    where = f"the parameter '{{{text}}}' at position {raw.position}"
    if not name:
        raise _Bad(f"{where} has no name; name it, like {{id}}")
    bad = next((ch for ch in name if ch in "/{}*()"), None)
    if bad is not None:
        raise _Bad(
            f"{where} has the character '{bad}' in its name '{name}'; "
            f"use a plain name and put constraints after a colon, like {{id:int}}"
        )
    labels: list[str] = []
    checks: list[_Check] = []
    while i < n and text[i] == ":":
        j = i + 1
        while j < n and text[j] not in ":=?(":
            j += 1
        cname, args = text[i + 1 : j], None
        if j < n and text[j] == "(":
            close = _closing_paren(text, j)
            if close < 0:
                raise _Bad(f"constraint '{text[i + 1 :]}' of {where} has no closing ')'; close it")
            args, j = text[j + 1 : close], close + 1
            if j < n and text[j] not in ":=?":
                raise _Bad(
                    f"unexpected text '{text[j:]}' after constraint '{cname}({args})' of {where}; "
                    f"chain constraints with ':', like {{id:int:min(1)}}"
                )
        label, check = _make_constraint(cname, args, name)
        labels.append(label)
        checks.append(check)
        i = j
    optional, default = False, None
    if i < n and text[i] == "=":
        default = text[i + 1 :]
        if default.endswith("?"):
            raise _Bad(f"{where} is both optional and has a default; use {{{name}?}} or {{{name}=value}}")
        if not default:
            raise _Bad(f"{where} has an empty default value; give a value after '=' or remove the '='")
    elif i < n:  # '?'
        if i != n - 1:
            if text[i + 1] == "=":
                raise _Bad(f"{where} is both optional and has a default; use {{{name}?}} or {{{name}=value}}")
            raise _Bad(f"{where} has '?' before its end; '?' must be the last character, like {{id:int?}}")
        optional = True
    if stars and optional:
        raise _Bad(
            f"{where} is a catch-all, which cannot be optional (it already matches an empty rest); "
            f"write {{{'*' * stars}{name}}}"
        )
    info = RouteParameter(name, optional, default, bool(stars), tuple(labels))
    param = _Param(info, tuple(checks), "{" + text + "}")
    if default is not None:
        for label, check in zip(labels, checks, strict=True):
            if not check(default):
                raise _Bad(
                    f"the default value '{default}' of {where} fails its constraint '{label}'; "
                    f"fix one of them"
                )
    return param


class _Literal:
    """A segment of literal text."""

    __slots__ = ("lower", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()


class _Simple:
    """A segment that is exactly one parameter."""

    __slots__ = ("param",)

    def __init__(self, param: _Param) -> None:
        self.param = param


class _Complex:
    """A segment mixing literal text and parameters, like '{name}.{ext?}'."""

    __slots__ = ("full", "params", "short")

    def __init__(self, parts: list[str | _Param]) -> None:
        self.params = [p for p in parts if isinstance(p, _Param)]
        self.full = self._compile(parts)
        last = parts[-1]
        self.short = self._compile(parts[:-2]) if isinstance(last, _Param) and last.info.optional else None

    @staticmethod
    def _compile(parts: list[str | _Param]) -> re.Pattern[str]:
        return re.compile(
            "".join("(.+)" if isinstance(p, _Param) else re.escape(p) for p in parts),
            re.IGNORECASE | re.DOTALL,
        )

    def match(self, text: str) -> list[str | None] | None:
        """The parameter values for one path segment, or None."""
        values: list[str | None]
        m = self.full.fullmatch(text)
        if m is not None:
            values = list(m.groups())
        elif self.short is not None and not text.endswith("."):
            m = self.short.fullmatch(text)
            if m is None:
                return None
            values = [*m.groups(), None]
        else:
            return None
        for param, value in zip(self.params, values, strict=True):
            if value is not None and not param.accepts(value):
                return None
        return values


def _complex(parts: list[str | _Param], index: int) -> _Complex:
    """Validate and build a complex segment."""
    shown = "".join(p if isinstance(p, str) else p.source for p in parts)
    where = f"segment {index + 1} ('{shown}')"
    for k, part in enumerate(parts):
        if isinstance(part, str):
            continue
        if part.info.catch_all:
            raise _Bad(
                f"catch-all parameter '{part.name}' shares {where} with other text; "
                f"give it a segment of its own"
            )
        if k and not isinstance(parts[k - 1], str):
            raise _Bad(
                f"{where} has two parameters in a row; separate them with literal text, like {{a}}-{{b}}"
            )
        if part.info.default is not None:
            raise _Bad(
                f"parameter '{part.name}' in {where} has a default, which is only supported when "
                f"the parameter is a whole segment; move it to its own segment or drop the default"
            )
        if part.info.optional and (k != len(parts) - 1 or k < 2 or parts[k - 1] != "."):
            raise _Bad(
                f"optional parameter '{part.name}' in {where} must be last and follow a '.' that "
                f"follows other text, like {{name}}.{{ext?}}; otherwise give it a segment of its own"
            )
    return _Complex(parts)


@functools.lru_cache(maxsize=4096)
def _parsed(template: str) -> RouteTemplate:
    try:
        return RouteTemplate._parse(template)
    except _Bad as exc:
        raise RouteError(f"Route template '{template}' is invalid: {exc}.") from None


class RouteTemplate:
    """A parsed, compiled route template."""

    __slots__ = ("_catch_all", "_omittable_from", "_segments", "parameters", "template")

    def __init__(
        self, template: str, segments: list[_Literal | _Simple | _Complex], catch_all: _Param | None
    ) -> None:
        self.template = template
        self._segments = segments
        self._catch_all = catch_all
        omittable = len(segments)
        while omittable and _omittable(segments[omittable - 1]):
            omittable -= 1
        self._omittable_from = omittable
        params: list[RouteParameter] = []
        for seg in segments:
            if isinstance(seg, _Simple):
                params.append(seg.param.info)
            elif isinstance(seg, _Complex):
                params.extend(p.info for p in seg.params)
        if catch_all is not None:
            params.append(catch_all.info)
        self.parameters: tuple[RouteParameter, ...] = tuple(params)

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        """Parse and compile a template; raise RouteError naming the template and the problem. A template is
        immutable: the same text gives the same object (each function's route is parsed when it is checked and
        when it is routed, and again by every host of a test session)."""
        return _parsed(template)

    @classmethod
    def _parse(cls, template: str) -> RouteTemplate:
        raw = _scan(template)
        if len(raw) > 1 and not raw[0]:
            raw.pop(0)  # leading '/'
        if len(raw) > 1 and not raw[-1]:
            raw.pop()  # trailing '/'
        if raw == [[]]:
            raw = []
        segments: list[_Literal | _Simple | _Complex] = []
        catch_all: _Param | None = None
        seen: dict[str, str] = {}
        for index, parts in enumerate(raw):
            if not parts:
                raise _Bad(f"segment {index + 1} is empty ('//'); remove the extra '/'")
            parsed = [p if isinstance(p, str) else _parse_param(p) for p in parts]
            for part in parsed:
                if isinstance(part, str):
                    if "?" in part:
                        raise _Bad(
                            f"literal text '{part}' contains '?'; a route matches the path only, "
                            f"so drop the query part, or write {{name?}} for an optional parameter"
                        )
                    continue
                if part.name.lower() in seen:
                    raise _Bad(f"parameter name '{part.name}' appears more than once; rename one of them")
                seen[part.name.lower()] = part.name
                if part.info.catch_all and index != len(raw) - 1:
                    raise _Bad(
                        f"catch-all parameter '{part.name}' must be in the last segment; move it to the end"
                    )
            first = parsed[0]
            if len(parsed) > 1:
                segments.append(_complex(parsed, index))
            elif isinstance(first, str):
                segments.append(_Literal(first))
            elif first.info.catch_all:
                catch_all = first
            else:
                segments.append(_Simple(first))
        return cls(template, segments, catch_all)

    def match(self, path: str) -> RouteValues | None:
        """Match a raw URL path (after the route prefix); return the parameter values or None."""
        segments, trailing = _split_path(path)
        return self._match(segments, 0, trailing)

    def _match(self, segments: list[str], start: int, trailing: bool) -> RouteValues | None:
        count = len(segments) - start
        fixed = self._segments
        if count > len(fixed) and self._catch_all is None:
            return None
        if count < self._omittable_from:
            return None
        values: RouteValues = {}
        for index, seg in enumerate(fixed):
            if index >= count:
                if isinstance(seg, _Simple):
                    values[seg.param.name] = seg.param.info.default  # omittable: optional or defaulted
                continue
            text = segments[start + index]
            if isinstance(seg, _Literal):
                if text != seg.text and text.lower() != seg.lower:
                    return None
            elif isinstance(seg, _Simple):
                if not text or not seg.param.accepts(text):
                    return None
                values[seg.param.name] = text
            else:
                found = seg.match(text)
                if found is None:
                    return None
                for param, value in zip(seg.params, found, strict=True):
                    values[param.name] = value
        rest_param = self._catch_all
        if rest_param is not None:
            at = start + len(fixed)
            if at < len(segments):
                rest = "/".join(segments[at:]) + ("/" if trailing else "")
                if not rest_param.accepts(rest):
                    return None
                values[rest_param.name] = rest
            else:
                values[rest_param.name] = rest_param.info.default
        return values

    def __repr__(self) -> str:
        return f"RouteTemplate({self.template!r})"

    def __str__(self) -> str:
        return self.template


def _omittable(seg: _Literal | _Simple | _Complex) -> bool:
    """Whether a trailing segment may be missing from the path."""
    return isinstance(seg, _Simple) and (seg.param.info.optional or seg.param.info.default is not None)


# --- paths

_ENCODED_SLASH = re.compile(r"(%2[fF])")


def _unquote(text: str) -> str:
    """Percent-decode as UTF-8; leave text with invalid UTF-8 sequences as it was."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return text


def _decode_segment(segment: str) -> str:
    """Percent-decode one path segment, keeping %2F encoded like Kestrel."""
    if "%" not in segment:
        return segment
    pieces = _ENCODED_SLASH.split(segment)
    pieces[::2] = [_unquote(p) for p in pieces[::2]]
    return "".join(pieces)


def _split_path(path: str) -> tuple[list[str], bool]:
    """Decoded segments of a raw URL path, and whether it had a trailing slash."""
    if "?" in path:
        path = path.partition("?")[0]
    if path.startswith("/"):
        path = path[1:]
    if not path:
        return [], False
    trailing = path.endswith("/")
    if trailing:
        path = path[:-1]
    return [_decode_segment(s) for s in path.split("/")], trailing


# --- router


@dataclass(frozen=True, slots=True)
class Route(Generic[T]):
    """One registered route: template, allowed methods (None = any) and target."""

    template: RouteTemplate
    methods: frozenset[str] | None
    target: T


def _parse_prefix(prefix: str) -> tuple[str, ...]:
    """The lower-cased literal segments of a route prefix."""
    body = prefix.strip("/")
    if not body:
        return ()
    parts = body.split("/")
    for part in parts:
        if not part or any(ch in part for ch in "{}?"):
            raise RouteError(
                f"Route prefix '{prefix}' is invalid: it must be literal segments like 'api' or 'api/v1' "
                f"(no empty segments, braces or '?'); fix extensions.http.routePrefix in host.json"
            )
    return tuple(_decode_segment(p).lower() for p in parts)


def _parse_methods(template: str, methods: Sequence[str] | None) -> frozenset[str] | None:
    """Upper-cased allowed methods, or None for any method."""
    if methods is None:
        return None
    if isinstance(methods, str):
        raise RouteError(
            f"Methods for route '{template}' must be a list like ['{methods}'], not the string '{methods}'"
        )
    allowed = set()
    for method in methods:
        if not isinstance(method, str) or not method or any(ch.isspace() for ch in method):
            raise RouteError(
                f"Method {method!r} for route '{template}' is invalid; "
                f"use HTTP method names like 'GET' or 'POST'"
            )
        allowed.add(method.upper())
    return frozenset(allowed) if allowed else None


class Router(Generic[T]):
    """Routes in registration order under a prefix; the first route matching method and path wins."""

    __slots__ = ("_cache", "_prefix", "_prefix_text", "_routes")

    CACHE_SIZE = 1024
    """Matches remembered by (method, raw path); emptied when full or when a route is added."""

    def __init__(self, prefix: str = "api") -> None:
        self._prefix = _parse_prefix(prefix)
        self._prefix_text = prefix.strip("/")
        self._routes: list[Route[T]] = []
        self._cache: dict[tuple[str, str], tuple[T, RouteValues] | None] = {}

    @property
    def prefix(self) -> str:
        """The route prefix without slashes ('' for routes at the root)."""
        return self._prefix_text

    @property
    def routes(self) -> tuple[Route[T], ...]:
        """Registered routes, in matching order."""
        return tuple(self._routes)

    def add(self, template: str, methods: Sequence[str] | None, target: T) -> Route[T]:
        """Register a route after the existing ones; methods None or empty means any method."""
        route = Route(RouteTemplate.parse(template), _parse_methods(template, methods), target)
        self._routes.append(route)
        self._cache.clear()
        return route

    def match(self, method: str, path: str) -> tuple[T, RouteValues] | None:
        """The first route matching the method and raw URL path (prefix included), with its values (a fresh
        dict per call; a repeated (method, path) is answered from a bounded cache)."""
        key = (method, path)
        try:
            found = self._cache[key]
        except KeyError:
            pass
        else:
            return None if found is None else (found[0], dict(found[1]))
        found = self._match(method, path)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = found
        return None if found is None else (found[0], dict(found[1]))

    def _match(self, method: str, path: str) -> tuple[T, RouteValues] | None:
        segments, trailing = _split_path(path)
        prefix = self._prefix
        start = len(prefix)
        if start:
            if len(segments) < start:
                return None
            for expected, actual in zip(prefix, segments, strict=False):
                if actual != expected and actual.lower() != expected:
                    return None
        verb = method.upper()
        for route in self._routes:
            if route.methods is not None and verb not in route.methods:
                continue
            values = route.template._match(segments, start, trailing)
            if values is not None:
                return route.target, values
        return None
