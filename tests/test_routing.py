"""Tests for funchost_http.routing: ASP.NET Core-style route templates and the first-match router."""

from __future__ import annotations

import pytest

from funchost_http.routing import Route, RouteError, RouteParameter, Router, RouteTemplate


def match(template: str, path: str) -> dict[str, str | None] | None:
    return RouteTemplate.parse(template).match(path)


# --- literals, parameters, paths


def test_literal_segments_match_case_insensitively() -> None:
    assert match("Items/List", "/items/LIST") == {}
    assert match("items/list", "items/lists") is None
    assert match("items/list", "items") is None


def test_parameter_captures_one_segment() -> None:
    assert match("items/{id}", "/items/42") == {"id": "42"}
    assert match("items/{id}", "/items/42/more") is None
    assert match("items/{id}", "/items") is None


def test_parameter_names_keep_their_case() -> None:
    assert match("assistants/{assistantId}", "/assistants/abc") == {"assistantId": "abc"}


def test_values_are_percent_decoded_per_segment() -> None:
    assert match("items/{name}", "/items/hello%20w%C3%B6rld") == {"name": "hello wörld"}
    assert match("items/{name}", "/items/a+b") == {"name": "a+b"}


def test_encoded_slash_stays_encoded_and_never_splits_a_segment() -> None:
    assert match("items/{name}", "/items/a%2Fb") == {"name": "a%2Fb"}
    assert match("items/{name}", "/items/a%2fb%20c") == {"name": "a%2fb c"}


def test_invalid_utf8_escape_is_left_as_is() -> None:
    assert match("items/{name}", "/items/%FF") == {"name": "%FF"}


def test_encoded_literal_matches_its_decoded_text() -> None:
    assert match("caf\u00e9/{x}", "/caf%C3%A9/1") == {"x": "1"}


def test_trailing_slash_is_tolerated_once() -> None:
    assert match("items/{id}", "/items/7/") == {"id": "7"}
    assert match("items/{id}", "/items/7//") is None


def test_empty_segment_in_path_does_not_match() -> None:
    assert match("items/{id}/x", "/items//x") is None


def test_leading_slash_optional_in_template_and_path() -> None:
    assert match("/items/{id}", "items/1") == {"id": "1"}


def test_empty_template_matches_only_the_root() -> None:
    assert match("", "/") == {}
    assert match("", "") == {}
    assert match("", "/x") is None


def test_query_string_is_ignored() -> None:
    assert match("items/{id}", "/items/3?code=abc") == {"id": "3"}


# --- optional parameters and defaults


def test_optional_parameter_omitted_is_none() -> None:
    assert match("items/{id?}", "/items") == {"id": None}
    assert match("items/{id?}", "/items/") == {"id": None}
    assert match("items/{id?}", "/items/9") == {"id": "9"}


def test_default_fills_in_when_omitted() -> None:
    assert match("items/{page=1}", "/items") == {"page": "1"}
    assert match("items/{page=1}", "/items/3") == {"page": "3"}


def test_several_omittable_parameters_at_the_end() -> None:
    t = RouteTemplate.parse("{controller=Home}/{action=Index}/{id?}")
    assert t.match("/") == {"controller": "Home", "action": "Index", "id": None}
    assert t.match("/shop") == {"controller": "shop", "action": "Index", "id": None}
    assert t.match("/shop/buy/5") == {"controller": "shop", "action": "buy", "id": "5"}


def test_optional_parameter_can_only_be_omitted_at_the_end() -> None:
    assert match("a/{b?}/c", "/a/c") is None
    assert match("a/{b?}/c", "/a/x/c") == {"b": "x"}
    assert match("a/{b=1}/c", "/a/c") is None


def test_optional_with_constraint_is_checked_only_when_present() -> None:
    t = RouteTemplate.parse("items/{id:int?}")
    assert t.match("/items") == {"id": None}
    assert t.match("/items/12") == {"id": "12"}
    assert t.match("/items/abc") is None


def test_default_with_constraint() -> None:
    t = RouteTemplate.parse("items/{page:int:min(1)=1}")
    assert t.match("/items") == {"page": "1"}
    assert t.match("/items/0") is None


# --- catch-all


@pytest.mark.parametrize("template", ["files/{*rest}", "files/{**rest}"])
def test_catch_all_takes_the_rest_with_slashes(template: str) -> None:
    t = RouteTemplate.parse(template)
    assert t.match("/files/a/b/c.txt") == {"rest": "a/b/c.txt"}
    assert t.match("/files/one") == {"rest": "one"}
    assert t.match("/FILES/x%20y/z") == {"rest": "x y/z"}


def test_catch_all_may_be_empty() -> None:
    assert match("files/{*rest}", "/files") == {"rest": None}
    assert match("files/{*rest}", "/files/") == {"rest": None}


def test_catch_all_keeps_trailing_slash_and_inner_empty_segments() -> None:
    assert match("files/{*rest}", "/files/a/b/") == {"rest": "a/b/"}
    assert match("files/{*rest}", "/files/a//b") == {"rest": "a//b"}


def test_catch_all_default() -> None:
    assert match("files/{*rest=index.html}", "/files") == {"rest": "index.html"}


def test_catch_all_after_parameters() -> None:
    assert match("{user}/{*path}", "/bob/docs/x") == {"user": "bob", "path": "docs/x"}


def test_catch_all_constraint_applies_to_whole_rest() -> None:
    t = RouteTemplate.parse("f/{*rest:maxlength(3)}")
    assert t.match("/f/a/b") == {"rest": "a/b"}
    assert t.match("/f/a/bc") is None


# --- constraints


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", ["0", "-5", "+7", "2147483647", "%205"], ["1.5", "abc", "2147483648", "1e3", "\u0663"]),
        ("long", ["9223372036854775807", "-1"], ["9223372036854775808", "x"]),
        ("bool", ["true", "FALSE", "True"], ["yes", "1", "t"]),
        (
            "guid",
            [
                "d071b70c-a812-4b54-87d2-7769528e2814",
                "D071B70CA8124B5487D27769528E2814",
                "{d071b70c-a812-4b54-87d2-7769528e2814}",
                "(d071b70c-a812-4b54-87d2-7769528e2814)",
            ],
            ["d071b70c-a812-4b54-87d2", "not-a-guid", "d071b70ca-812-4b54-87d2-7769528e2814"],
        ),
        ("alpha", ["abc", "ABCdef"], ["abc1", "caf\u00e9", "a-b"]),
        (
            "datetime",
            ["2024-01-15", "2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123+02:00"],
            ["2024-13-01", "x"],
        ),
        ("decimal", ["1", "-1.5", "1,000.25", ".5", "5-"], ["1e5", "abc", "1.2.3", "NaN"]),
        ("double", ["1.5", "-2e10", "1E-3", "NaN", "-Infinity", "1,000"], ["abc", "1e", "0x10"]),
        ("float", ["3.25", "infinity"], ["pi"]),
        ("min(10)", ["10", "11"], ["9", "ten"]),
        ("max(10)", ["10", "-3"], ["11", "x"]),
        ("range(1,3)", ["1", "3"], ["0", "4", "two"]),
        ("length(3)", ["abc", "12\u00e9"], ["ab", "abcd"]),
        ("length(2,3)", ["ab", "abc"], ["a", "abcd"]),
        ("minlength(2)", ["ab", "abcdef"], ["a"]),
        ("maxlength(2)", ["a", "ab"], ["abc"]),
        ("required", ["a"], []),
    ],
)
def test_constraint_accepts_and_rejects(constraint: str, good: list[str], bad: list[str]) -> None:
    t = RouteTemplate.parse(f"v/{{x:{constraint}}}")
    for value in good:
        assert t.match(f"/v/{value}") is not None, value
    for value in bad:
        assert t.match(f"/v/{value}") is None, value


def test_constraint_names_are_case_insensitive() -> None:
    assert match("v/{x:INT:Min(2)}", "/v/3") == {"x": "3"}


def test_int_value_is_returned_as_written() -> None:
    assert match("v/{x:int}", "/v/+7") == {"x": "+7"}


def test_length_counts_utf16_code_units_like_dotnet() -> None:
    assert match("v/{x:length(2)}", "/v/%F0%9F%98%80") == {"x": "\U0001f600"}


def test_chained_constraints_must_all_pass() -> None:
    t = RouteTemplate.parse("items/{id:int:min(1):max(100)}")
    assert t.match("/items/50") == {"id": "50"}
    assert t.match("/items/0") is None
    assert t.match("/items/101") is None
    assert t.match("/items/abc") is None


def test_regex_constraint_with_parens_commas_and_escaped_braces() -> None:
    t = RouteTemplate.parse(r"codes/{code:regex(^([a-z]{{2}},\d{{1,3}})$)}")
    assert t.parameters[0].constraints == (r"regex(^([a-z]{2},\d{1,3})$)",)
    assert t.match("/codes/ab,123") == {"code": "ab,123"}
    assert t.match("/codes/AB,1") == {"code": "AB,1"}  # case-insensitive
    assert t.match("/codes/ab,1234") is None
    assert t.match("/codes/abc,1") is None


def test_regex_constraint_is_not_anchored_like_aspnet() -> None:
    t = RouteTemplate.parse(r"v/{x:regex(\d{{3}})}")
    assert t.match("/v/ab1234") == {"x": "ab1234"}
    assert t.match("/v/ab12") is None


def test_regex_constraint_with_paren_in_character_class_and_dotnet_named_group() -> None:
    assert match(r"v/{x:regex(^[)(]+$)}", "/v/()") == {"x": "()"}
    assert match(r"v/{x:regex(^(?<word>[a-z]+)\z)}", "/v/abc") == {"x": "abc"}


def test_regex_constraint_followed_by_more_constraints() -> None:
    t = RouteTemplate.parse(r"v/{x:regex(^a):maxlength(3)}")
    assert t.match("/v/abc") == {"x": "abc"}
    assert t.match("/v/abcd") is None


# --- complex segments


def test_complex_segment_with_literal_between_parameters() -> None:
    t = RouteTemplate.parse("files/{name}.{ext}")
    assert t.match("/files/report.pdf") == {"name": "report", "ext": "pdf"}
    assert t.match("/files/archive.tar.gz") == {"name": "archive.tar", "ext": "gz"}
    assert t.match("/files/noext") is None
    assert t.match("/files/.pdf") is None


def test_complex_segment_literals_are_case_insensitive() -> None:
    assert match("v/img-{n:int}.PNG", "/v/IMG-3.png") == {"n": "3"}
    assert match("v/img-{n:int}.png", "/v/img-x.png") is None


def test_complex_segment_optional_extension() -> None:
    t = RouteTemplate.parse("files/{name}.{ext?}")
    assert t.match("/files/a.b") == {"name": "a", "ext": "b"}
    assert t.match("/files/readme") == {"name": "readme", "ext": None}
    assert t.match("/files/readme.") is None


def test_parameters_describe_the_template() -> None:
    t = RouteTemplate.parse("a/{id:int:min(1)}/{name}.{ext?}/{page=2}/{**rest}")
    assert t.parameters == (
        RouteParameter("id", constraints=("int", "min(1)")),
        RouteParameter("name"),
        RouteParameter("ext", optional=True),
        RouteParameter("page", default="2"),
        RouteParameter("rest", catch_all=True),
    )
    assert str(t) == "a/{id:int:min(1)}/{name}.{ext?}/{page=2}/{**rest}"


def test_escaped_braces_in_literals() -> None:
    assert match("v/{{x}}", "/v/%7Bx%7D") == {}


# --- malformed templates


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "items/{id",
            "the parameter opened at position 6 has no closing '}'; "
            "close it, or write '{{' for a literal '{'.",
        ),
        (
            "items/id}",
            "unmatched '}' at position 8; remove it, or write '}}' for a literal '}'.",
        ),
        (
            "{a{b}",
            "unexpected '{' at position 2 inside the parameter opened at "
            "position 0; write '{{' for a literal '{' (for example inside a regex).",
        ),
        (
            "files/{*rest}/x",
            "catch-all parameter 'rest' must be in the last segment; move it to the end.",
        ),
        (
            "items/{id:number}",
            "unknown constraint 'number' on parameter 'id'; "
            "use one of: int, long, bool, guid, alpha, datetime, decimal, double, float, min(n), max(n), "
            "range(a,b), length(n), length(a,b), minlength(n), maxlength(n), regex(pattern), required.",
        ),
        (
            "items/{id:min(x)}",
            "argument 'x' of constraint 'min(x)' on parameter 'id' "
            "is not a 64-bit integer; write it like min(1).",
        ),
        (
            "items/{id:min}",
            "constraint 'min' on parameter 'id' needs 1 integer argument(s), got 0; write it like min(1).",
        ),
        (
            "items/{id:range(1)}",
            "constraint 'range' on parameter 'id' needs 2 "
            "integer argument(s), got 1; write it like range(1,100).",
        ),
        (
            "items/{id:length(1,2,3)}",
            "constraint 'length' on parameter 'id' needs "
            "1 or 2 integer argument(s), got 3; write it like length(8) or length(1,20).",
        ),
        (
            "items/{id:range(9,1)}",
            "constraint 'range(9,1)' on parameter 'id' has its lower bound above its upper bound; swap them.",
        ),
        (
            "items/{id:minlength(-1)}",
            "constraint 'minlength(-1)' on parameter 'id' has a negative length; use 0 or more.",
        ),
        (
            "items/{id:int(5)}",
            "constraint 'int' on parameter 'id' takes no arguments; write it as 'int'.",
        ),
        (
            "items/{id:regex()}",
            "constraint 'regex' on parameter 'id' has no pattern; write it like regex(^[a-z]+$).",
        ),
        (
            "items/{id:regex(a[)}",
            "constraint 'regex(a[)' of the parameter "
            "'{id:regex(a[)}' at position 6 has no closing ')'; close it.",
        ),
        (
            "items/{id:regex(a)b}",
            "unexpected text 'b' after constraint 'regex(a)' of the parameter '{id:regex(a)b}' at position "
            "6; chain constraints with ':', like {id:int:min(1)}.",
        ),
        (
            "items/{id:}",
            "parameter 'id' has an empty constraint after ':'; remove the ':' or name a constraint.",
        ),
        (
            "{id}/x/{ID}",
            "parameter name 'ID' appears more than once; rename one of them.",
        ),
        (
            "items/{}",
            "the parameter '{}' at position 6 has no name; name it, like {id}.",
        ),
        (
            "items/{id(int)}",
            "the parameter '{id(int)}' at position 6 has the "
            "character '(' in its name 'id(int)'; use a plain name and put constraints after a colon, "
            "like {id:int}.",
        ),
        (
            "items/{id?=1}",
            "the parameter '{id?=1}' at position 6 is both optional "
            "and has a default; use {id?} or {id=value}.",
        ),
        (
            "items/{id=}",
            "the parameter '{id=}' at position 6 has an empty default "
            "value; give a value after '=' or remove the '='.",
        ),
        (
            "items/{*rest?}",
            "the parameter '{*rest?}' at position 6 is a catch-all, "
            "which cannot be optional (it already matches an empty rest); write {*rest}.",
        ),
        (
            "items/{id:int=abc}",
            "the default value 'abc' of the parameter "
            "'{id:int=abc}' at position 6 fails its constraint 'int'; fix one of them.",
        ),
        (
            "items//x",
            "segment 2 is empty ('//'); remove the extra '/'.",
        ),
        (
            "items?x=1",
            "literal text 'items?x=1' contains '?'; a route matches the "
            "path only, so drop the query part, or write {name?} for an optional parameter.",
        ),
        (
            "v/{a}{b}",
            "segment 2 ('{a}{b}') has two parameters in a row; separate "
            "them with literal text, like {a}-{b}.",
        ),
        (
            "v/x{*rest}",
            "catch-all parameter 'rest' shares segment 2 ('x{*rest}') "
            "with other text; give it a segment of its own.",
        ),
        (
            "v/{a?}-x",
            "optional parameter 'a' in segment 2 ('{a?}-x') must be last and follow a '.' that follows other "
            "text, like {name}.{ext?}; otherwise give it a segment of its own.",
        ),
        (
            "v/{a=1}.x",
            "parameter 'a' in segment 2 ('{a=1}.x') has a default, which "
            "is only supported when the parameter is a whole segment; move it to its own segment or drop "
            "the default.",
        ),
    ],
)
def test_malformed_template_raises_route_error(template: str, message: str) -> None:
    with pytest.raises(RouteError) as caught:
        RouteTemplate.parse(template)
    assert str(caught.value) == f"Route template '{template}' is invalid: {message}"
    assert isinstance(caught.value, ValueError)


def test_invalid_regex_names_the_problem() -> None:
    with pytest.raises(
        RouteError, match=r"constraint 'regex\(a\(\?\)\)' on parameter 'x' is not a valid regular"
    ):
        RouteTemplate.parse("v/{x:regex(a(?))}")


# --- router


def test_router_first_match_wins_in_registration_order() -> None:
    router: Router[str] = Router()
    router.add("items/{id}", None, "by-id")
    router.add("items/special", None, "special")
    assert router.match("GET", "/api/items/special") == ("by-id", {"id": "special"})


def test_router_falls_through_to_later_route_when_earlier_fails() -> None:
    router: Router[str] = Router()
    router.add("items/{id:int}", None, "by-id")
    router.add("items/special", None, "special")
    assert router.match("GET", "/api/items/special") == ("special", {})
    assert router.match("GET", "/api/items/5") == ("by-id", {"id": "5"})


def test_router_methods_are_case_insensitive_and_none_means_any() -> None:
    router: Router[str] = Router()
    router.add("a", ["get", "Post"], "a")
    router.add("b", None, "b")
    assert router.match("GET", "/api/a") == ("a", {})
    assert router.match("post", "/api/a") == ("a", {})
    assert router.match("DELETE", "/api/a") is None
    assert router.match("PATCH", "/api/b") == ("b", {})
    assert router.match("head", "/api/b") == ("b", {})


def test_router_empty_method_list_means_any() -> None:
    router: Router[str] = Router()
    router.add("a", [], "a")
    assert router.match("OPTIONS", "/api/a") == ("a", {})


def test_router_same_template_different_methods() -> None:
    router: Router[str] = Router()
    router.add("assistants/{assistantId}", ["PUT"], "CreateAssistant")
    router.add("assistants/{assistantId}", ["GET"], "GetChatState")
    router.add("assistants/{assistantId}", ["POST"], "PostUserQuery")
    assert router.match("GET", "/api/assistants/a1") == ("GetChatState", {"assistantId": "a1"})
    assert router.match("POST", "/api/assistants/a1") == ("PostUserQuery", {"assistantId": "a1"})
    assert router.match("PUT", "/api/assistants/a1") == ("CreateAssistant", {"assistantId": "a1"})
    assert router.match("HEAD", "/api/assistants/a1") is None


def test_router_default_prefix_is_api_and_case_insensitive() -> None:
    router: Router[int] = Router()
    router.add("hello", None, 1)
    assert router.prefix == "api"
    assert router.match("GET", "/API/Hello") == (1, {})
    assert router.match("GET", "/hello") is None
    assert router.match("GET", "/apix/hello") is None
    assert router.match("GET", "/") is None


def test_router_empty_prefix_puts_routes_at_root() -> None:
    router: Router[int] = Router(prefix="")
    router.add("hello", None, 1)
    router.add("", None, 2)
    assert router.prefix == ""
    assert router.match("GET", "/hello") == (1, {})
    assert router.match("GET", "/api/hello") is None
    assert router.match("GET", "/") == (2, {})


def test_router_multi_segment_prefix_with_slashes() -> None:
    router: Router[int] = Router(prefix="/api/v1/")
    router.add("x/{id}", None, 1)
    assert router.prefix == "api/v1"
    assert router.match("GET", "/Api/V1/x/3") == (1, {"id": "3"})
    assert router.match("GET", "/api/x/3") is None


def test_router_route_for_the_prefix_itself() -> None:
    router: Router[int] = Router(prefix="api")
    router.add("{*rest}", None, 1)
    assert router.match("GET", "/api") == (1, {"rest": None})
    assert router.match("GET", "/api/") == (1, {"rest": None})
    assert router.match("GET", "/api/a/b") == (1, {"rest": "a/b"})


def test_router_decodes_values_and_ignores_query() -> None:
    router: Router[int] = Router()
    router.add("items/{name}", ["GET"], 1)
    assert router.match("GET", "/api/items/a%20b?x=1") == (1, {"name": "a b"})


def test_router_lists_routes_in_order() -> None:
    router: Router[str] = Router()
    first = router.add("a/{x}", ["get"], "A")
    router.add("b", None, "B")
    assert router.routes[0] is first
    assert first == Route(first.template, frozenset({"GET"}), "A")
    assert [(str(r.template), r.methods, r.target) for r in router.routes] == [
        ("a/{x}", frozenset({"GET"}), "A"),
        ("b", None, "B"),
    ]


def test_router_no_match_returns_none() -> None:
    router: Router[str] = Router()
    assert router.match("GET", "/api/anything") is None


def test_router_add_rejects_bad_template_and_keeps_nothing() -> None:
    router: Router[str] = Router()
    with pytest.raises(RouteError, match=r"^Route template 'items/\{id' is invalid"):
        router.add("items/{id", None, "x")
    assert router.routes == ()


def test_router_rejects_a_single_string_as_methods() -> None:
    router: Router[str] = Router()
    with pytest.raises(RouteError) as caught:
        router.add("a", "GET", "x")
    assert str(caught.value) == "Methods for route 'a' must be a list like ['GET'], not the string 'GET'"


def test_router_rejects_blank_method() -> None:
    router: Router[str] = Router()
    with pytest.raises(RouteError) as caught:
        router.add("a", ["GET", " "], "x")
    assert str(caught.value) == (
        "Method ' ' for route 'a' is invalid; use HTTP method names like 'GET' or 'POST'"
    )


@pytest.mark.parametrize("prefix", ["{x}", "api//v1", "a?b"])
def test_router_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(RouteError) as caught:
        Router(prefix=prefix)
    assert str(caught.value) == (
        f"Route prefix '{prefix}' is invalid: it must be literal segments like 'api' or 'api/v1' "
        "(no empty segments, braces or '?'); fix extensions.http.routePrefix in host.json"
    )
