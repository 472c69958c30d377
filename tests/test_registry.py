"""funchost/registry.py and funchost/invocation.py with a third-party-style plugin: the plugin protocol as a
plugin author sees it, and the host's output semantics (commit on success, fan-out, refusals write nothing)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from funchost.host import Host, HostOptions
from funchost.indexing import unload_app
from funchost.plugin import (
    BindingError,
    BindingOptions,
    CallContext,
    HostApi,
    InputBinding,
    InvocationError,
    OutputBinding,
    Plugin,
    PluginInfo,
)
from funchost.registry import parse_options


class QueueOptions(BindingOptions):
    queue_name: str
    connection: str = "AzureWebJobsStorage"
    auto_resolve: ClassVar[frozenset[str]] = frozenset({"queueName"})


class QueueOutput(OutputBinding[QueueOptions]):
    """A toy queue: writes land in ``written`` per queue name; 'poison' items are refused."""

    type = "queue"
    options = QueueOptions

    def __init__(self) -> None:
        self.written: dict[str, list[Any]] = {}

    def parse(self, item: Any, options: QueueOptions, call: CallContext) -> Any:
        if item == "poison":
            raise BindingError("the item 'poison' is refused; send anything else.")
        return item

    async def write(self, items: Sequence[Any], options: QueueOptions, call: CallContext) -> None:
        self.written.setdefault(options.queue_name, []).extend(items)


class GreetingOptions(BindingOptions):
    text: str
    auto_resolve: ClassVar[frozenset[str]] = frozenset({"text"})


class GreetingInput(InputBinding[GreetingOptions]):
    type = "greeting"
    options = GreetingOptions

    async def read(self, options: GreetingOptions, call: CallContext) -> str:
        return options.text.upper()


class ReplyOptions(BindingOptions):
    pass


class ReplyOutput(OutputBinding[ReplyOptions]):
    """An output its trigger would answer with (``writes = False``): validated with the others, never written."""

    type = "reply"
    options = ReplyOptions
    writes: ClassVar[bool] = False

    def parse(self, item: Any, options: ReplyOptions, call: CallContext) -> Any:
        if item == "poison":
            raise BindingError("the reply 'poison' is refused.")
        return item

    async def write(self, items: Sequence[Any], options: ReplyOptions, call: CallContext) -> None:
        raise AssertionError("write() of an output with writes = False was called")


QUEUE = QueueOutput()


def queue_plugin(host: HostApi) -> Plugin:
    return Plugin("queue", host, [QUEUE, GreetingInput(), ReplyOutput()])


def broken_plugin(host: HostApi) -> Plugin:
    raise RuntimeError("cannot start")


APP = '''
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="send/{q}")
@app.generic_output_binding(arg_name="msg", type="queue", queue_name="{q}-%SUFFIX%")
def send(req: func.HttpRequest, msg: func.Out[str]) -> str:
    msg.set(req.get_body().decode())
    if req.params.get("fail"):
        raise RuntimeError("user code failed")
    return "sent"


@app.route(route="answer/{text}")
@app.generic_output_binding(arg_name="msg", type="queue", queue_name="answers")
@app.generic_output_binding(arg_name="reply", type="reply")
def answer(req: func.HttpRequest, msg: func.Out[str], reply: func.Out[str]) -> str:
    msg.set("queued")
    reply.set(req.route_params["text"])
    return "answered"


@app.route(route="greet/{name}")
@app.generic_input_binding(arg_name="greeting", type="greeting", text="hello {name}")
def greet(req: func.HttpRequest, greeting: str) -> str:
    return greeting


@app.route(route="typo")
@app.generic_output_binding(arg_name="msg", type="queue", queue_nmae="x")
def typo(req: func.HttpRequest, msg: func.Out[str]) -> str:
    return "never"


@app.route(route="missing")
@app.generic_output_binding(arg_name="msg", type="queue", queue_name="%NOT_SET%")
def missing(req: func.HttpRequest, msg: func.Out[str]) -> str:
    msg.set("x")
    return "ok"


@app.route(route="badtpl")
@app.generic_input_binding(arg_name="greeting", type="greeting", text="hello {oops")
def badtpl(req: func.HttpRequest, greeting: str) -> str:
    return greeting


@app.route(route="unknown")
@app.generic_output_binding(arg_name="msg", type="carrierPigeon")
def unknown(req: func.HttpRequest, msg: func.Out[str]) -> str:
    return "never"
'''


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[Host]:
    QUEUE.written.clear()
    (tmp_path / "function_app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    loaded = await Host.load(
        HostOptions(
            script_root=tmp_path,
            apply_environment=False,
            overrides={"SUFFIX": "prod"},
            plugins=[
                PluginInfo("http", "funchost_http.plugin:HttpPlugin"),
                PluginInfo("queue", f"{__name__}:queue_plugin"),
                PluginInfo("broken", f"{__name__}:broken_plugin"),
            ],
        )
    )
    await loaded.start()
    yield loaded
    await loaded.close()
    unload_app()


async def call(host: Host, client: Any, path: str, body: str = "") -> tuple[int, str]:
    resp = await client.post(path, data=body.encode())
    return resp.status, await resp.text()


@pytest.fixture
async def client(host: Host, aiohttp_client: Any) -> Any:
    from funchost.web.app import Server

    return await aiohttp_client(Server(host, max_body=10_000).app)


async def test_output_is_written_after_success_with_expressions_resolved(host: Host, client: Any) -> None:
    assert await call(host, client, "/api/send/orders", "one") == (200, "sent")
    assert QUEUE.written == {"orders-prod": ["one"]}


async def test_a_json_array_fans_out_into_one_write_per_element(host: Host, client: Any) -> None:
    assert await call(host, client, "/api/send/orders", '["a", "b", {"c": 1}]') == (200, "sent")
    assert QUEUE.written == {"orders-prod": ["a", "b", {"c": 1}]}


async def test_nothing_is_written_when_the_function_raises(host: Host, client: Any) -> None:
    assert await call(host, client, "/api/send/orders?fail=1", "one") == (500, "")
    assert QUEUE.written == {}


async def test_a_refused_item_fails_the_invocation_and_writes_none_of_the_array(host: Host, client: Any) -> None:
    assert await call(host, client, "/api/send/orders", '["a", "poison", "c"]') == (500, "")
    assert QUEUE.written == {}
    with pytest.raises(InvocationError) as failure:
        await host.invoke_by_name("send", "x")  # an HTTP function cannot be run from the admin API
    assert "An HttpRequest is required" in str(failure.value)


async def test_an_output_that_does_not_write_is_validated_with_the_others_and_never_written(
    host: Host, client: Any
) -> None:
    assert await call(host, client, "/api/answer/fine") == (200, "answered")
    assert QUEUE.written == {"answers": ["queued"]}  # the reply's write() (which raises) was not called
    status, _ = await call(host, client, "/api/answer/poison")
    assert status == 500
    assert QUEUE.written == {"answers": ["queued"]}  # refused reply: the queue message was not written either


async def test_input_binding_reads_with_route_data(host: Host, client: Any) -> None:
    assert await call(host, client, "/api/greet/ada") == (200, "HELLO ADA")


async def test_index_time_errors_stay_with_their_function(host: Host, client: Any) -> None:
    typo = host.find("typo")
    unknown = host.find("unknown")
    assert typo is not None and unknown is not None
    assert typo.spec.errors == [
        "Binding 'msg' (queue): unknown property 'queueNmae' for binding type 'queue'. Did you mean 'queueName'? "
        "Known properties: connection, queueName."
    ]
    assert "The binding type 'carrierPigeon' of binding 'msg' is not registered" in unknown.spec.errors[0]
    assert "Installed binding types: greeting, http, httpTrigger, queue, reply." in unknown.spec.errors[0]
    badtpl = host.find("badtpl")
    assert badtpl is not None and badtpl.spec.errors[0].startswith(
        "Binding 'greeting' (greeting): property 'text': Invalid template 'hello {oops'."
    )
    assert (await client.post("/api/typo")).status == 404  # not routed, like the host
    assert await call(host, client, "/api/greet/x") == (200, "HELLO X")  # the others keep working


async def test_a_missing_setting_fails_only_the_invocation(host: Host, client: Any) -> None:
    assert await call(host, client, "/api/missing") == (500, "")
    assert QUEUE.written == {}


async def test_a_broken_plugin_is_reported_and_skipped(host: Host) -> None:
    assert host.registry.errors == ["Binding plugin 'broken' failed to start: RuntimeError('cannot start')"]
    assert [p.name for p in host.registry.plugins] == ["http", "queue"]


def test_parse_options_matches_keys_case_insensitively_and_names_missing_ones() -> None:
    options = parse_options(QUEUE, {"type": "queue", "QUEUENAME": "q", "Connection": "C"})
    assert options == QueueOptions(queue_name="q", connection="C")
    with pytest.raises(BindingError) as missing:
        parse_options(QUEUE, {"type": "queue"})
    assert str(missing.value) == "property 'queueName': Field required"
