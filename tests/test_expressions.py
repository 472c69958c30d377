"""Binding-expression resolution: `%Setting%`, `{templates}`, value conversion and HTTP trigger data."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from funchost.expressions import (
    BindingData,
    CaseSensitive,
    ExpressionError,
    SystemBindingData,
    Template,
    add_system_data,
    format_value,
    has_expressions,
    json_binding_data,
    resolve,
    resolve_settings,
    system_data,
)
from funchost_http.data import http_binding_data

UUID_D = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
SETTINGS = {"Model": "gpt-4o", "Store": "tables", "Empty": ""}
WHEN = datetime(2024, 10, 24, 10, 0, 0, tzinfo=UTC)


def lookup(name: str) -> str | None:
    return SETTINGS.get(name)


def render(text: str, data: Any) -> str:
    return Template.compile(text).render(data)


# --------------------------------------------------------------------------- %Setting%


class TestResolveSettings:
    def test_replaces_every_reference_anywhere(self) -> None:
        assert resolve_settings("%Model%-on-%Store%/%Model%", lookup) == "gpt-4o-on-tables/gpt-4o"

    def test_whole_string_and_empty_value(self) -> None:
        assert resolve_settings("%Model%", lookup) == "gpt-4o"
        assert resolve_settings("a%Empty%b", lookup) == "ab"

    def test_text_without_percent_is_returned_as_is(self) -> None:
        assert resolve_settings("plain {id}", lookup) == "plain {id}"

    def test_missing_setting_error_names_it_and_says_what_to_do(self) -> None:
        with pytest.raises(ExpressionError) as err:
            resolve_settings("x %Nope% y", lookup)
        assert str(err.value).startswith("'%Nope%' does not resolve to a value.")
        assert "local.settings.json" in str(err.value)

    def test_unclosed_percent_reports_zero_based_position(self) -> None:
        with pytest.raises(ExpressionError) as err:
            resolve_settings("%Model% and 50%", lookup)
        assert str(err.value).startswith("The '%' at position 14 does not have a closing '%'")

    def test_empty_name_is_a_missing_setting(self) -> None:
        with pytest.raises(ExpressionError, match=r"^'%%' does not resolve to a value\."):
            resolve_settings("100%%", lookup)

    def test_setting_value_is_not_rescanned_for_percent(self) -> None:
        assert resolve_settings("%A%", {"A": "%B%"}.get) == "%B%"


# --------------------------------------------------------------------------- templates


class TestTemplateSyntax:
    def test_literal_only(self) -> None:
        t = Template.compile("no expressions here")
        assert t.is_literal
        assert t.parameter_names == ()
        assert t.render({}) == "no expressions here"

    def test_names_and_literals(self) -> None:
        t = Template.compile("assistants/{id}/messages/{n}.json")
        assert t.parameter_names == ("id", "n")
        assert t.render({"id": "a1", "n": "7"}) == "assistants/a1/messages/7.json"

    def test_escaped_braces(self) -> None:
        assert render("{{literal}} {x} }}{{", {"x": "1"}) == "{literal} 1 }{"
        assert render("{{{x}}}", {"x": "v"}) == "{v}"
        assert Template.compile("{{id}}").is_literal

    def test_top_level_names_are_case_insensitive(self) -> None:
        assert render("{ID}-{Id}", {"id": "a"}) == "a-a"

    def test_exact_case_wins_over_other_casing_in_a_plain_dict(self) -> None:
        assert render("{Name}", {"name": "lower", "Name": "exact"}) == "exact"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("a{b", "Invalid template 'a{b'. Missing closing bracket at position 2."),
            ("a{b{c}", "Invalid template 'a{b{c}'. Missing closing bracket at position 2."),
            ("a}b", "Invalid template 'a}b'. Missing opening bracket at position 2."),
            ("{x}}", "Invalid template '{x}}'. Missing opening bracket at position 4."),
            ("x{}", "Invalid template 'x{}'. The parameter name at position 2 is empty."),
            ("{my-name}", "Invalid template '{my-name}'. The parameter name 'my-name' is invalid."),
            ("{1abc}", "Invalid template '{1abc}'. The parameter name '1abc' is invalid."),
            ("{a..b}", "Invalid template '{a..b}'. The parameter name 'a..b' is invalid."),
            ("{ id }", "Invalid template '{ id }'. The parameter name ' id ' is invalid."),
            ("{:N}", "Invalid template '{:N}'. The parameter name '' is invalid."),
        ],
    )
    def test_parse_errors_at_compile_time(self, text: str, message: str) -> None:
        with pytest.raises(ExpressionError) as err:
            Template.compile(text)
        assert str(err.value).startswith(message)

    def test_compile_once_render_many(self) -> None:
        t = Template.compile("{user}:{n}")
        assert [t.render({"user": u, "n": i}) for u, i in (("a", 1), ("b", 2))] == ["a:1", "b:2"]


class TestPaths:
    def test_dotted_path_into_json_object_is_case_insensitive(self) -> None:
        data = {"order": {"Customer": {"Name": "Ada"}}}
        assert render("{order.customer.name}", data) == "Ada"

    def test_missing_top_level_name(self) -> None:
        with pytest.raises(ExpressionError) as err:
            render("{id}/{other}", {"id": "1"})
        assert str(err.value).startswith("No value for named parameter 'other'.")

    def test_missing_path_step(self) -> None:
        with pytest.raises(ExpressionError) as err:
            render("{order.missing}", {"order": {"a": 1}})
        assert str(err.value).startswith("Error while accessing 'missing': property doesn't exist.")

    def test_step_into_a_string_fails(self) -> None:
        with pytest.raises(ExpressionError, match=r"^Error while accessing 'x': property doesn't exist\."):
            render("{name.x}", {"name": "text"})

    def test_case_sensitive_mapping_requires_exact_keys(self) -> None:
        data = {"Query": CaseSensitive({"message": "hi"})}
        assert render("{query.message}", data) == "hi"
        with pytest.raises(
            ExpressionError, match=r"^Error while accessing 'Message': property doesn't exist\."
        ):
            render("{Query.Message}", data)

    def test_object_attributes_are_case_insensitive(self) -> None:
        class Req:
            method = "POST"

        assert render("{r.METHOD}", {"r": Req()}) == "POST"

    def test_present_none_renders_empty(self) -> None:
        assert render("[{opt}]", {"opt": None}) == "[]"
        assert render("[{a.b}]", {"a": {"b": None}}) == "[]"

    def test_json_object_and_array_values_render_empty(self) -> None:
        assert render("[{o}][{l}]", {"o": {"a": 1}, "l": [1, 2]}) == "[][]"

    def test_header_names_with_dashes_are_valid_path_steps(self) -> None:
        data = {"Headers": BindingData({"x-ms-client-principal-name": "ada@example.com"})}
        assert render("{Headers.X-MS-Client-Principal-Name}", data) == "ada@example.com"


# --------------------------------------------------------------------------- value conversion


class TestValues:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (True, "True"),
            (False, "False"),
            (42, "42"),
            (-7, "-7"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1E-05"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1E+15"),
            (1234567890123456.0, "1234567890123456"),
            (1.2345678901234567e20, "1.2345678901234567E+20"),
            (float("nan"), "NaN"),
            (float("inf"), "Infinity"),
            ("text", "text"),
            (b"bytes", ""),
        ],
    )
    def test_default_conversion(self, value: Any, expected: str) -> None:
        assert format_value(value) == expected
        assert render("{v}", {"v": value}) == expected

    def test_guid_default_and_formats(self) -> None:
        g = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")
        data = {"g": g}
        assert render("{g}", data) == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        assert render("{g:N}", data) == "6f9619ff8b86d011b42d00c04fc964ff"
        assert render("{g:D}", data) == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        assert render("{g:B}", data) == "{6f9619ff-8b86-d011-b42d-00c04fc964ff}"
        assert render("{g:p}", data) == "(6f9619ff-8b86-d011-b42d-00c04fc964ff)"
        assert render("{g:X}", data) == (
            "{0x6f9619ff,0x8b86,0xd011,{0xb4,0x2d,0x00,0xc0,0x4f,0xc9,0x64,0xff}}"
        )

    def test_bad_guid_format(self) -> None:
        with pytest.raises(ExpressionError, match=r"^The format 'Q' is not supported for a Guid\."):
            render("{g:Q}", {"g": uuid.uuid4()})

    def test_datetime_default_format(self) -> None:
        assert render("{t}", {"t": WHEN}) == "2024-10-24T10-00-00Z"
        assert format_value(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03-04-05"
        plus2 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
        assert format_value(plus2) == "2024-01-02T03-04-05+02:00"

    @pytest.mark.parametrize(
        ("fmt", "expected"),
        [
            ("yyyy", "2024"),
            ("yyyy/MM/dd", "2024/03/07"),
            ("yy-M-d", "24-3-7"),
            ("HH:mm:ss.fff", "14:05:09.123"),
            ("hh tt", "02 PM"),
            ("ffffff FFF", "123456 123"),
            ("dddd, dd MMMM yyyy", "Thursday, 07 March 2024"),
            ("ddd MMM", "Thu Mar"),
            ("'T'HH\\h", "T14h"),
            ("yyyyMMddTHHmmssK", "20240307T140509Z"),
            ("s", "2024-03-07T14:05:09"),
            ("o", "2024-03-07T14:05:09.1234560Z"),
            ("u", "2024-03-07 14:05:09Z"),
        ],
    )
    def test_datetime_custom_formats(self, fmt: str, expected: str) -> None:
        t = datetime(2024, 3, 7, 14, 5, 9, 123456, tzinfo=UTC)
        assert render("{t:" + fmt + "}", {"t": t}) == expected

    def test_unknown_standard_datetime_format(self) -> None:
        with pytest.raises(
            ExpressionError, match=r"^The date format 'q' is not a standard \.NET date format\."
        ):
            render("{t:q}", {"t": WHEN})

    @pytest.mark.parametrize(
        ("value", "fmt", "expected"),
        [
            (7, "D4", "0007"),
            (-7, "D3", "-007"),
            (255, "X", "FF"),
            (255, "x4", "00ff"),
            (1234.5, "N2", "1,234.50"),
        ],
    )
    def test_number_formats(self, value: Any, fmt: str, expected: str) -> None:
        assert render("{v:" + fmt + "}", {"v": value}) == expected

    def test_unsupported_number_format(self) -> None:
        with pytest.raises(ExpressionError, match=r"^The format 'D4' is not supported for the number 1\.5\."):
            render("{v:D4}", {"v": 1.5})

    def test_format_on_text_is_ignored(self) -> None:
        assert render("{v:yyyy}", {"v": "abc"}) == "abc"


# --------------------------------------------------------------------------- built-ins


class TestBuiltIns:
    def test_system_data_is_lazy_and_shaped(self) -> None:
        data = system_data("Ask")
        sys = data["sys"]
        assert isinstance(sys, SystemBindingData)
        assert render("{sys.methodname}|{SYS.MethodName}", data) == "Ask|Ask"
        assert UUID_D.match(render("{sys.randguid}", data))
        assert render("{sys.randguid}", data) != render("{sys.randguid}", data)

    def test_sys_utcnow_uses_the_default_datetime_format(self) -> None:
        data = {"sys": SystemBindingData("F", clock=lambda: WHEN)}
        assert render("{sys.utcnow}", data) == "2024-10-24T10-00-00Z"
        assert render("{sys.UtcNow:yyyy-MM-dd}", data) == "2024-10-24"

    def test_sys_utcnow_real_clock(self) -> None:
        before = datetime.now(UTC).replace(microsecond=0)
        text = render("{sys.utcnow}", system_data("F"))
        after = datetime.now(UTC)
        stamp = datetime.strptime(text, "%Y-%m-%dT%H-%M-%SZ").replace(tzinfo=UTC)
        assert before <= stamp <= after

    def test_rand_guid_and_format(self) -> None:
        assert UUID_D.match(render("{rand-guid}", {}))
        assert re.fullmatch(r"[0-9a-f]{32}", render("{rand-guid:N}", {}))
        assert re.fullmatch(r"id-[0-9a-f]{32}-x", render("id-{RAND-GUID:n}-x", {}))
        assert Template.compile("{rand-guid}").parameter_names == ()

    def test_datetime_builtin(self) -> None:
        before = datetime.now(UTC)
        year = render("{DateTime:yyyy}", {})
        stamp = render("{datetime}", {})
        assert year in {str(before.year), str(datetime.now(UTC).year)}
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z", stamp)

    def test_user_datetime_key_wins_for_the_plain_token(self) -> None:
        assert render("{DateTime}", {"datetime": "mine"}) == "mine"
        # The host looks up the whole token ("DateTime:yyyy"), so a format always means the built-in.
        assert re.fullmatch(r"\d{4}", render("{DateTime:yyyy}", {"DateTime": "mine"}))

    def test_user_sys_key_shadows_builtin_sys(self) -> None:
        data: dict[str, Any] = {"sys": {"methodname": "user"}}
        add_system_data(data, "Real")
        assert render("{sys.methodname}", data) == "user"
        with pytest.raises(ExpressionError, match=r"^Error while accessing 'utcnow'"):
            render("{sys.utcnow}", data)

    def test_sys_without_system_data_still_resolves_time_and_guid(self) -> None:
        assert UUID_D.match(render("{sys.randguid}", {}))
        assert render("[{sys.methodname}]", {}) == "[]"

    def test_add_system_data_when_absent(self) -> None:
        data: dict[str, Any] = {"id": "1"}
        add_system_data(data, "Real")
        assert render("{id}:{sys.methodname}", data) == "1:Real"


# --------------------------------------------------------------------------- resolve / has_expressions


class TestResolve:
    def test_settings_first_then_template(self) -> None:
        data = {"id": "a1", "Model": "from-data"}
        assert resolve("%Model%/{id}", data, lookup) == "gpt-4o/a1"
        assert resolve("{%Which%}", data, {"Which": "id"}.get) == "a1"

    def test_errors_propagate(self) -> None:
        with pytest.raises(ExpressionError, match=r"^No value for named parameter 'nope'\."):
            resolve("{nope}", {}, lookup)
        with pytest.raises(ExpressionError, match=r"^'%Nope%' does not resolve"):
            resolve("%Nope%", {}, lookup)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("plain", False), ("", False), ("%X%", True), ("{x}", True), ("a}", True), ("{{", True)],
    )
    def test_has_expressions(self, text: str, expected: bool) -> None:
        assert has_expressions(text) is expected

    def test_literal_is_returned_untouched(self) -> None:
        assert resolve("0.7", {}, lookup) == "0.7"


# --------------------------------------------------------------------------- HTTP trigger data


def http(
    body: Any = b"",
    query: list[tuple[str, str]] | None = None,
    route: dict[str, str | None] | None = None,
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> BindingData:
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return http_binding_data(
        body=raw,
        content_length=len(raw) if content_length is None else content_length,
        query=query or [],
        route=route or {},
        headers=headers or {},
        request="REQ",
        method_name="PostUserQuery",
    )


class TestHttpBindingData:
    def test_shape_and_order(self) -> None:
        data = http({"b": 1}, query=[("q", "2")], route={"r": "3"}, headers={"h": "4"})
        assert list(data) == ["b", "q", "r", "Query", "Headers", "$request", "sys"]
        assert data["$request"] == "REQ"
        assert render("{sys.methodname}", data) == "PostUserQuery"

    def test_route_beats_query_beats_body(self) -> None:
        body = {"message": "body", "onlyBody": "b", "both": "body"}
        data = http(body, query=[("Message", "query"), ("both", "query")], route={"MESSAGE": "route"})
        assert render("{message}|{both}|{onlybody}", data) == "route|query|b"

    def test_query_last_value_wins_and_code_is_skipped_top_level(self) -> None:
        data = http(query=[("a", "1"), ("a", "2"), ("code", "secret"), ("CODE", "s2")])
        assert render("{a}|{Query.a}|{Query.code}", data) == "2|2|secret"
        with pytest.raises(ExpressionError, match=r"^No value for named parameter 'code'\."):
            render("{code}", data)

    def test_query_step_is_case_sensitive(self) -> None:
        data = http(query=[("message", "hi")])
        assert render("{Query.message}", data) == "hi"
        assert render("{MESSAGE}", data) == "hi"
        with pytest.raises(
            ExpressionError, match=r"^Error while accessing 'Message': property doesn't exist\."
        ):
            render("{Query.Message}", data)

    def test_absent_query_value_fails(self) -> None:
        with pytest.raises(
            ExpressionError, match=r"^Error while accessing 'message': property doesn't exist\."
        ):
            render("{Query.message}", http())

    def test_headers_step_is_case_insensitive(self) -> None:
        data = http(headers={"x-ms-client-principal-name": "ada", "accept": "a, b"})
        assert render("{Headers.X-MS-CLIENT-PRINCIPAL-NAME}|{headers.Accept}", data) == "ada|a, b"

    def test_user_query_and_headers_names_block_the_dictionaries(self) -> None:
        data = http({"headers": "from-body"}, query=[("query", "from-query")])
        assert render("{Query}|{Headers}", data) == "from-query|from-body"

    def test_unmatched_optional_route_parameter_renders_empty(self) -> None:
        data = http(query=[("id", "q")], route={"id": None})
        assert render("[{id}]", data) == "[]"

    def test_body_scalars_become_strings_objects_stay_arrays_skipped(self) -> None:
        body = {"t": True, "n": 2, "f": 1.0, "s": "x", "nil": None, "obj": {"Sub": {"Deep": 5}}, "arr": [1]}
        data = http(body)
        assert data["t"] == "True"
        assert data["n"] == "2"
        assert data["f"] == "1"
        assert data["nil"] is None
        assert data["obj"] == {"Sub": {"Deep": 5}}
        assert "arr" not in data
        assert render("{obj.sub.deep}|{nil}|{t}", data) == "5||True"
        with pytest.raises(ExpressionError, match=r"^No value for named parameter 'arr'\."):
            render("{arr}", data)

    def test_body_ignored_without_positive_content_length(self) -> None:
        assert "a" not in http({"a": "1"}, content_length=0)
        raw = b'{"a": "1"}'
        data = http_binding_data(body=raw, content_length=None, query=[], route={}, headers={}, request=None)
        assert "a" not in data
        assert "sys" not in data

    @pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'{"a": ', b"\xff\xfe", b'"a"'])
    def test_non_object_bodies_add_nothing(self, raw: bytes) -> None:
        data = http(raw)
        assert list(data) == ["Query", "Headers", "$request", "sys"]

    def test_body_with_bom_and_whitespace(self) -> None:
        data = http(b'\xef\xbb\xbf  {"prompt": "hi"} \n')
        assert render("{prompt}", data) == "hi"

    def test_body_body_property_is_not_special(self) -> None:
        data = http({"prop": "v"})
        with pytest.raises(ExpressionError, match=r"^No value for named parameter 'body'\."):
            render("{body.prop}", data)
        assert render("{body.prop}", http({"body": {"prop": "v"}})) == "v"


class TestBindingData:
    def test_case_insensitive_keys_keep_last_casing(self) -> None:
        d = BindingData({"Name": 1})
        d["NAME"] = 2
        assert d["name"] == 2
        assert list(d) == ["NAME"]
        assert "nAmE" in d
        del d["name"]
        assert len(d) == 0

    def test_case_sensitive_view(self) -> None:
        c = CaseSensitive({"a": "1"})
        assert c["a"] == "1"
        assert "A" not in c
        assert dict(c) == {"a": "1"}


class TestJsonBindingData:
    def test_top_level_properties_of_a_json_trigger_value(self) -> None:
        data = json_binding_data('{"Id": 7, "tags": ["a"], "meta": {"k": "v"}}')
        assert dict(data) == {"Id": "7", "meta": {"k": "v"}}
        assert render("{id}/{meta.K}", data) == "7/v"

    def test_non_object_values_add_nothing(self) -> None:
        assert len(json_binding_data("plain text")) == 0
        assert len(json_binding_data(b"[1]")) == 0
