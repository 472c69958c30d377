"""End to end through the real CLI: the sample-shaped apps unchanged, a local OpenAI-compatible server, loopback
documents; bad input fails the invocation with a clear error and writes nothing."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from funchost_retrieval.hashing import hash_embedding
from tests.cli import RunningHost, running
from tests.fake_openai import FakeOpenAIServer, fake_openai_in_thread

pytestmark = pytest.mark.slow

APPS = Path(__file__).resolve().parent / "apps"
SAMPLES = APPS / "samples"
MENU = "The cafeteria serves pizza on Fridays. Lunch starts at noon in the main hall."
FINANCE = "Quarterly revenue grew by ten percent thanks to new customers in Europe."


def copy_app(tmp_path: Path, source: Path) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    return target


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with fake_openai_in_thread(api_key="test-key") as server:
        yield server


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server for documents (an https-only check would refuse it on Azure)."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "menu.txt").write_text(MENU, encoding="utf-8")
    (root / "finance.md").write_text(FINANCE, encoding="utf-8")
    (root / "empty.txt").write_text("", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def azure_env(model: FakeOpenAIServer) -> dict[str, str]:
    return {"AZURE_OPENAI_ENDPOINT": model.url, "AZURE_OPENAI_KEY": "test-key"}


def post(host: RunningHost, path: str, body: object) -> tuple[int, bytes]:
    status, _, payload = host.request("POST", path, json.dumps(body))
    return status, payload


def vectors_cli(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "funchost", "vectors", *args, "--script-root", str(app)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embeddings_sample_with_raw_text_file_and_url(
    tmp_path: Path, model: FakeOpenAIServer, docs: str
) -> None:
    app = copy_app(tmp_path, SAMPLES / "embeddings")
    with running(app, env=azure_env(model)) as host:
        assert post(host, "/api/embeddings", {"rawText": "Hello world. This is a test"})[0] == 200
        assert post(host, "/api/embeddings-from-file", {"filePath": "data/handbook.txt"})[0] == 200
        assert post(host, "/api/embeddings-from-url", {"url": f"{docs}/menu.txt"})[0] == 200
        out = host.wait_for_output("for input url")
    assert "Received 2 embedding(s) for input text containing 27 characters." in out  # the tail is not lost
    assert "Received 1 embedding(s) for input file data/handbook.txt." in out
    assert f"Received 1 embedding(s) for input url {docs}/menu.txt." in out
    assert "property 'model' is not a property of the embeddings binding" in out
    assert "is http: accepted locally, but Azure accepts only https" in out
    assert out.count("is http: accepted locally") == 1
    calls = model.embeddings_requests
    assert [c.path for c in calls] == ["/openai/deployments/text-embedding-ada-002/embeddings"] * 3
    assert calls[0].json == {
        "input": ["Hello world.", "world. This is a test"],
        "model": "text-embedding-ada-002",
        "encoding_format": "base64",
    }
    assert calls[2].json["input"] == [MENU]


def test_embeddings_json_is_what_the_extension_hands_over(tmp_path: Path, model: FakeOpenAIServer) -> None:
    app = copy_app(tmp_path, APPS / "retrieval_bad")
    with running(app, env=azure_env(model)) as host:
        status, body = post(host, "/api/raw?text=one%20two%20three", {})
    assert status == 200
    data = json.loads(body)
    assert list(data) == ["request", "response", "count"]
    assert data["request"] == ["one two", "two three"]
    assert data["count"] == 2
    assert list(data["response"]) == ["data", "model", "object", "usage"]
    first = data["response"]["data"][0]
    assert list(first) == ["index", "embedding", "object"]
    vector = np.frombuffer(base64.b64decode(first["embedding"]), dtype="<f4")
    assert np.allclose(vector, hash_embedding("one two"))
    assert data["response"]["model"] == "emb"


def test_rag_ingest_two_documents_and_ask_about_one(
    tmp_path: Path, model: FakeOpenAIServer, docs: str
) -> None:
    app = copy_app(tmp_path, SAMPLES / "rag-aisearch")
    model.reply("Pizza is served on Fridays.\nReference: menu.txt")
    with running(app, env=azure_env(model)) as host:
        status, body = post(host, "/api/IngestFile", {"url": f"{docs}/menu.txt"})
        assert (status, json.loads(body)) == (200, {"status": "success", "title": "menu"})
        assert post(host, "/api/IngestFile", {"url": f"{docs}/finance.md"})[0] == 200
        status, body = post(host, "/api/PromptFile", {"prompt": "When does the cafeteria serve pizza?"})
        out = host.output
    assert status == 200, out
    assert json.loads(body) == {
        "content": "Pizza is served on Fridays.\nReference: menu.txt",
        "content_type": "text/plain",
    }
    assert "serves searchProvider 'azureAiSearch' (AzureAISearch, 1536 dimensions)" in out
    chat = model.chat_requests[-1]
    assert chat.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    system, user = chat.json["messages"]
    assert system["role"] == "system" and user == {
        "role": "user",
        "content": "When does the cafeteria serve pizza?",
    }
    assert system["content"].startswith(
        "You are a helpful assistant. You are responding to requests\n    from a user"
    )
    assert system["content"].endswith(f"\nmenu: {MENU}\n")  # maxKnowledgeCount 1: the nearest document only
    assert "revenue" not in system["content"]
    assert chat.json["max_tokens"] == 100 and chat.json["temperature"] == 0.5
    query = model.embeddings_requests[-1]
    assert (
        query.json["input"] == "When does the cafeteria serve pizza?"
    )  # a plain string, as the extension sends
    listed = vectors_cli(app, "list")
    assert listed.returncode == 0 and "openai-index\tdocuments=2\tchunks=2\tdimensions=1536" in listed.stdout
    shown = vectors_cli(app, "show", "openai-index")
    assert "  finance\tchunks=1" in shown.stdout and "  menu\tchunks=1" in shown.stdout
    deleted = vectors_cli(app, "delete", "openai-index")
    assert (
        deleted.returncode == 0
        and "Deleted collection 'openai-index' (2 documents, 2 chunks)." in deleted.stdout
    )
    missing = vectors_cli(app, "show", "openai-index")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("sample", "ingest", "ask", "provider"),
    [
        ("rag-aisearch", "IngestFile", "PromptFile", "azureAiSearch"),
        ("rag-cosmosdb", "IngestFile", "PromptFile", "cosmosDBSearch"),
        ("rag-cosmosdb-nosql", "IngestFile", "PromptFile", "cosmosDBNoSqlSearch"),
        ("rag-kusto", "IngestEmail", "PromptEmail", "kusto"),
    ],
)
def test_every_rag_sample_runs_offline_and_survives_a_restart(
    tmp_path: Path, docs: str, sample: str, ingest: str, ask: str, provider: str
) -> None:
    app = copy_app(tmp_path, SAMPLES / sample)
    env = {"FUNCHOST_EMBEDDINGS": "hash", "FUNCHOST_CHAT": "echo"}
    with running(app, env=env) as host:
        assert post(host, f"/api/{ingest}", {"url": f"{docs}/menu.txt"})[0] == 200
        assert f"serves searchProvider '{provider}'" in host.output
    with running(app, env=env) as host:  # the local store survives the restart
        status, body = post(host, f"/api/{ask}", {"prompt": "pizza on fridays?"})
    assert status == 200 and json.loads(body)["content"] == "pizza on fridays?"
    assert "chunks=1" in vectors_cli(app, "list").stdout


def test_bad_input_fails_clearly_and_writes_nothing(
    tmp_path: Path, model: FakeOpenAIServer, docs: str
) -> None:
    app = copy_app(tmp_path, APPS / "retrieval_bad")
    with running(app, env=azure_env(model)) as host:
        # refused when the app loads (the extension refuses each invocation): the function is in error, not routed
        host.wait_for_output("maxOverlap (128) must be less than maxChunkLength (100)")
        assert "overlap" in host.output.split("maxOverlap (128)")[0].splitlines()[-1]
        assert post(host, "/api/overlap?text=abc", {})[0] == 404
        assert post(host, "/api/ingest?text=kept%20words", {"title": "kept"})[0] == 200

        cases = [
            ("/api/file?path=missing/nothing.txt", {}, "could not find file"),
            ("/api/raw?text=%20%20%20", {}, "the text is empty or only whitespace"),
            ("/api/ingest?text=%20", {"title": "blank"}, "the text is empty or only whitespace"),
            ("/api/ingest?text=x", {"payload": None}, "Invalid search request"),
            ("/api/ingest?text=x", {"payload": {"title": 5}}, "'title' is a JSON int"),
            ("/api/ingest?text=x", {"fail": True, "title": "failed"}, "the function failed after"),
            ("/api/ask?q=", {}, "The query must be specified"),
        ]
        for path, body, cause in cases:
            status, _ = post(host, path, body)
            assert status == 500, path
            host.wait_for_output(cause)

        model.embeddings_error(500, "the embeddings backend is down")
        assert post(host, "/api/ingest?text=model%20error", {"title": "model-error"})[0] == 500
        host.wait_for_output("the embeddings backend is down")

        model.embedding_dimensions = 768
        assert post(host, "/api/ingest?text=small%20vectors", {"title": "small"})[0] == 500
        host.wait_for_output("768 dimensions, but collection 'c' holds 1536-dimensional vectors")
        model.embedding_dimensions = 1536
        out = host.output
    assert "Error in input binding 'embeddings' (embeddings)" in out
    assert "Error in output binding 'doc' (embeddingsStore)" in out or "doc" in out
    shown = vectors_cli(app, "show", "c")
    assert shown.stdout.splitlines()[1:] == ["  kept\tchunks=2"]  # "kept", "words": nothing half-written


def test_unreachable_url_names_the_url(tmp_path: Path, model: FakeOpenAIServer) -> None:
    app = copy_app(tmp_path, SAMPLES / "embeddings")
    with running(app, env=azure_env(model)) as host:
        url = "http://127.0.0.1:9/nothing.txt"
        assert post(host, "/api/embeddings-from-url", {"url": url})[0] == 500
        out = host.wait_for_output(f"could not fetch the Url '{url}'")
    assert "GetEmbeddingsHttpUrl" in out
    assert model.embeddings_requests == []  # nothing was sent to the model


def test_cassette_records_and_replays_embeddings_and_chat(
    tmp_path: Path, model: FakeOpenAIServer, docs: str
) -> None:
    app = copy_app(tmp_path, SAMPLES / "rag-aisearch")
    cassette = tmp_path / "rag.jsonl"
    model.reply("Fridays.")
    with running(app, "--chat-record", str(cassette), env=azure_env(model)) as host:
        assert post(host, "/api/IngestFile", {"url": f"{docs}/menu.txt"})[0] == 200
        status, body = post(host, "/api/PromptFile", {"prompt": "pizza?"})
        assert status == 200 and json.loads(body)["content"] == "Fridays."
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert [("input" in entry["request"]) for entry in lines] == [True, True, False]
    served = len(model.requests)
    shutil.rmtree(app / ".funchost")
    with running(app, "--chat-replay", str(cassette)) as host:  # no model settings at all
        assert post(host, "/api/IngestFile", {"url": f"{docs}/menu.txt"})[0] == 200
        status, body = post(host, "/api/PromptFile", {"prompt": "pizza?"})
    assert status == 200 and json.loads(body)["content"] == "Fridays."
    assert len(model.requests) == served
