"""The retrieval bindings in process through the pytest plugin: offline embedder, memory store, scripted chat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from funchost_retrieval.hashing import HASH_MODEL

APP = Path(__file__).resolve().parent / "apps" / "retrieval_bad"
SYSTEM = "You are a helpful assistant."


async def test_semantic_search_sends_the_nearest_chunks_and_returns_the_extension_json(funchost: Any) -> None:
    host = await funchost(str(APP), strict=False)
    for text, title in [
        ("The cafeteria serves pizza on Fridays.", "menu"),
        ("Revenue grew ten percent.", "finance"),
        ("Parking permits renew in January.", "parking"),
    ]:
        response = await host.client.post(f"/api/ingest?text={text}", json={"title": title})
        assert response.status == 200
    host.chat.reply("On Fridays.")
    response = await host.client.post("/api/ask?q=when does the cafeteria serve pizza", json={})
    assert response.status == 200
    result = json.loads(await response.text())
    assert list(result) == ["Embeddings", "Chat", "Response"]
    assert result["Embeddings"] == {"request": ["when does the cafeteria serve pizza"], "count": 0}
    assert result["Response"] == "On Fridays."
    assert result["Chat"]["object"] == "chat.completion"
    assert result["Chat"]["choices"][0]["message"]["content"] == "On Fridays."
    sent = host.chat.requests[-1]
    assert sent.model == "chat" and sent.max_tokens == 100 and sent.temperature == 0.5
    system = sent.messages[0]["content"]
    lines = system.split("\n")
    assert lines[-3].startswith("menu: The cafeteria serves pizza")  # maxKnowledgeCount 2, nearest first
    assert lines[-1] == "" and "parking" not in system.split("menu:")[0]
    assert sent.messages[1] == {"role": "user", "content": "when does the cafeteria serve pizza"}


async def test_embeddings_input_json_with_the_offline_embedder(funchost: Any) -> None:
    host = await funchost(str(APP), strict=False)
    response = await host.client.post("/api/raw?text=Hello world. This is a test", json={})
    data = json.loads(await response.text())
    assert data["request"] == ["Hello world.", "world. This is a test"]
    assert data["count"] == 2 and data["response"]["model"] == HASH_MODEL
