"""Record model calls once through the real CLI, then replay them offline: same answers, clear mismatch errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cli import RunningHost, running
from tests.fake_openai import fake_openai_in_thread

pytestmark = pytest.mark.slow  # end-to-end through the real CLI in a subprocess

SAMPLE = Path(__file__).resolve().parents[1] / "sample_app"


def post(host: RunningHost, message: str) -> tuple[int, str]:
    status, _, body = host.request("POST", f"/api/assistants/a1?message={quote(message)}")
    return status, body.decode()


def conversation(host: RunningHost) -> list[tuple[int, str]]:
    assert host.request("PUT", "/api/assistants/a1")[0] == 202
    return [post(host, "Remind me to water the plants"), post(host, "Thanks!")]


def test_record_then_replay_offline_then_unmatched(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    cassette = tmp_path / "cassettes" / "sample.jsonl"

    with fake_openai_in_thread(api_key="secret-key-123") as model:
        model.reply(tool_calls=[("call_1", "AddTodo", '{"taskDescription": "water the plants"}')])
        model.reply("Added 'water the plants'.")
        model.reply("You're welcome!")
        env = {"AZURE_OPENAI_ENDPOINT": model.url, "AZURE_OPENAI_KEY": "secret-key-123"}
        with running(app, "--store", "memory", "--chat-record", str(cassette), env=env) as host:
            recorded = conversation(host)
    assert recorded == [(200, "Added 'water the plants'."), (200, "You're welcome!")]

    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert len(lines) == 3
    assert lines[0]["response"]["tool_calls"][0]["function"]["name"] == "AddTodo"
    assert "secret-key-123" not in cassette.read_text()

    # Offline: no model server and no model settings at all; the cassette answers.
    offline = {"AZURE_OPENAI_ENDPOINT": "", "AZURE_OPENAI_KEY": ""}
    with running(app, "--store", "memory", "--chat-replay", str(cassette), env=offline) as host:
        assert conversation(host) == recorded
        host.wait_for_output("replay of cassette")

        # A request the cassette never saw fails the post with the closest recorded request shown.
        status, _ = post(host, "Something new")
        output = host.wait_for_output("Executed 'Functions.PostUserQuery' (Failed")
    assert status == 500
    assert "No recorded reply in the cassette" in output
    assert "Something new" in output  # the diff against the closest recorded request
    assert "Executed 'Functions.PostUserQuery' (Failed" in output


def test_replay_of_a_missing_cassette_fails_the_posts_with_the_path(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    missing = tmp_path / "nope.jsonl"
    with running(app, "--store", "memory", "--chat-replay", str(missing)) as host:
        assert host.request("PUT", "/api/assistants/a1")[0] == 202  # the store still works
        assert post(host, "hello")[0] == 500
        output = host.wait_for_output("Executed 'Functions.PostUserQuery' (Failed")
    assert f"The cassette {missing} does not exist" in output
    assert "Executed 'Functions.PostUserQuery' (Failed" in output
