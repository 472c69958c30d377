"""Bad input for blob and queue bindings: clear errors at index time or invocation, nothing written, host up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from funchost.plugin import BindingError
from funchost_storage.connections import resolve
from funchost_storage.convert import PathPattern
from funchost_storage.embedded import EmbeddedStorage
from funchost_storage.names import InvalidName, check_container, check_queue, split_path
from funchost_storage.queues import QueuesConfig, encode_message

APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.queue_trigger(arg_name="msg", queue_name="Bad_Queue", connection="AzureWebJobsStorage")
def bad_queue(msg: func.QueueMessage) -> None:
    pass


@app.blob_trigger(arg_name="b", path="UPPER/{name}", connection="AzureWebJobsStorage")
def bad_container(b: func.InputStream) -> None:
    pass


@app.queue_trigger(arg_name="msg", queue_name="ok", connection="MissingConnection")
def no_connection(msg: func.QueueMessage) -> None:
    pass


@app.route(route="send/{target}", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="{target}", connection="AzureWebJobsStorage")
def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse("sent")


@app.route(route="write/{path}", methods=["POST"])
@app.blob_output(arg_name="out", path="{path}", connection="AzureWebJobsStorage")
def write(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse("written")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "bad_app"
    root.mkdir()
    (root / "function_app.py").write_text(APP)
    (root / "host.json").write_text(json.dumps({"version": "2.0"}))
    settings = {
        "Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "FUNCTIONS_WORKER_RUNTIME": "python"}
    }
    (root / "local.settings.json").write_text(json.dumps(settings))
    return root


async def test_index_time_errors_name_function_binding_and_rule(funchost: Any, app: Path) -> None:
    host = await funchost(str(app), strict=False)
    errors = {fn.name: " ".join(fn.errors) for fn in host.host.functions if fn.errors}
    assert "invalid queue name 'bad_queue'" in errors["bad_queue"]
    assert "queueName" in errors["bad_queue"] and "'msg'" in errors["bad_queue"]
    assert "invalid container name 'UPPER'" in errors["bad_container"]
    assert "Storage account connection string 'MissingConnection' does not exist" in errors["no_connection"]
    assert "send" not in errors and "write" not in errors


async def test_invocation_errors_write_nothing(funchost: Any, app: Path) -> None:
    host = await funchost(str(app), strict=False)
    resp = await host.client.post("/api/send/No_Such_Queue!", data=b"x")
    assert resp.status == 500
    assert any(
        "Error in output binding 'out' (queue): property 'queueName': invalid queue name" in line
        for line in host.logs
    )
    big = b"x" * 50_000  # 66,668 bytes once base64-encoded: over 64 KiB
    resp = await host.client.post("/api/send/fine", data=big)
    assert resp.status == 500
    assert any("the message is 66,668 bytes after base64 encoding" in line for line in host.logs)
    resp = await host.client.post("/api/write/nocontainer", data=b"x")
    assert resp.status == 500
    assert any("has no container" in line for line in host.logs)
    resp = await host.client.post("/api/send/fine", data=b"small")  # the host is still up and works
    assert resp.status == 200
    store = EmbeddedStorage(app / ".funchost")
    try:
        assert [m.text for m in await store.peek_messages("fine", 32)] == ["c21hbGw="], (
            "only the good message"
        )
        assert await store.queue_names() == ["fine"]
    finally:
        await store.close()


def test_name_rules() -> None:
    for good in ("abc", "a-b-c", "x" * 63, "123"):
        assert check_queue(good) == good and check_container(good) == good
    for bad in ("ab", "x" * 64, "-abc", "abc-", "a--b", "Abc", "a_b", ""):
        with pytest.raises(InvalidName):
            check_queue(bad)
    assert check_container("$root") == "$root"
    with pytest.raises(InvalidName, match="1025 characters"):
        split_path("box/" + "n" * 1025)
    with pytest.raises(InvalidName, match="ends with '/'"):
        split_path("box/folder/")


def test_message_limit_is_64_kib_after_encoding() -> None:
    assert len(encode_message(b"x" * 49_152, "base64")) == 65_536
    with pytest.raises(ValueError, match="65,540 bytes after base64"):
        encode_message(b"x" * 49_153, "base64")
    assert len(encode_message(b"y" * 65_536, "none")) == 65_536
    with pytest.raises(ValueError, match="at most 65,536"):
        encode_message(b"y" * 65_537, "none")


def test_host_json_queues_settings() -> None:
    config = QueuesConfig.read(
        {"maxDequeueCount": 2, "visibilityTimeout": "00:00:30", "messageEncoding": "none"}
    )
    assert (config.max_dequeue_count, config.visibility_timeout.total_seconds(), config.message_encoding) == (
        2,
        30.0,
        "none",
    )
    assert QueuesConfig.read({}).max_dequeue_count == 5 and QueuesConfig.read({}).message_encoding == "base64"
    for bad, where in (
        ({"batchSize": 33}, "batchSize is 33"),
        ({"maxDequeueCount": "five"}, "maxDequeueCount is 'five'"),
        ({"visibilityTimeout": "soon"}, "visibilityTimeout is 'soon'"),
        ({"messageEncoding": "utf8"}, "messageEncoding is 'utf8'"),
        ({"maxPollingInterval": "00:00:00.010"}, "the minimum is"),
        ({"maxDequeCount": 3}, "unknown property 'maxDequeCount'"),
    ):
        with pytest.raises(BindingError, match=where):
            QueuesConfig.read(bad)


def test_storage_mode_and_connections() -> None:
    settings = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "Other": "UseDevelopmentStorage=true"}
    assert resolve(None, settings.get).kind == "embedded"
    azure = {**settings, "FUNCHOST_STORAGE": "azure"}
    assert resolve(None, azure.get).connection_string == "UseDevelopmentStorage=true"
    some = {**settings, "FUNCHOST_STORAGE": "azure:Other"}
    assert resolve("Other", some.get).kind == "azure" and resolve(None, some.get).kind == "embedded"
    with pytest.raises(BindingError, match="FUNCHOST_STORAGE is 'cloud'"):
        resolve(None, {**settings, "FUNCHOST_STORAGE": "cloud"}.get)


def test_path_patterns_bind_names() -> None:
    pattern = PathPattern("uploads/in/{name}.{ext}")
    assert (pattern.container, pattern.prefix) == ("uploads", "in/")
    assert pattern.match("in/report.final.pdf") == {"name": "report.final", "ext": "pdf"}
    assert pattern.match("out/report.pdf") is None
    assert PathPattern("box").match("any/thing") == {}
