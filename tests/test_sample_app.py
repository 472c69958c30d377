"""The sample app end to end, written the way a user writes integration tests with the ``funchost`` fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLE_APP = Path(__file__).resolve().parents[1] / "sample_app"
SINCE_EVER = "timestampUTC=2000-01-01T00:00:00Z"


async def test_assistant_keeps_a_todo_list(funchost: Any) -> None:
    host = await funchost(SAMPLE_APP)

    created = await host.client.put("/api/assistants/chat-1")
    assert created.status == 202
    assert await created.json() == {"assistantId": "chat-1"}

    # The model calls a skill, then answers; the scripted model plays the model's part.
    host.chat.tool_call("AddTodo", {"taskDescription": "buy milk"}).reply("Added 'buy milk'.")
    host.chat.tool_call("AddTodo", {"taskDescription": "call mum"}).reply("Added 'call mum'.")
    host.chat.tool_call("GetTodos").reply("You have 2 tasks: buy milk, call mum.")
    for message, answer in [
        ("Remind me to buy milk", "Added 'buy milk'."),
        ("And to call mum", "Added 'call mum'."),
        ("What is on my list?", "You have 2 tasks: buy milk, call mum."),
    ]:
        reply = await host.client.post(f"/api/assistants/chat-1?message={message}")
        assert reply.status == 200
        assert await reply.text() == answer

    state = await (await host.client.get(f"/api/assistants/chat-1?{SINCE_EVER}")).json()
    assert state["exists"] is True
    assert state["totalMessages"] == 13
    roles = [m["role"] for m in state["recentMessages"]]
    assert roles == ["System"] + ["User", "Assistant", "Tool", "Assistant"] * 3
    tool_results = [m["content"] for m in state["recentMessages"] if m["role"] == "Tool"]
    assert tool_results[2].startswith("Function Name: 'GetTodos' and Function Result: ")
    assert "buy milk" in tool_results[2] and "call mum" in tool_results[2]  # both AddTodo calls landed

    # What the model was sent: the last request carries the whole conversation and the two skills as tools.
    last = host.chat.requests[-1]
    assert [t["function"]["name"] for t in last.tools] == ["AddTodo", "GetTodos"]
    assert last.messages[-1]["role"] == "tool"

    # Skills are functions too: run one directly, through the same invocation path.
    assert '"buy milk"' in await host.invoke("GetTodos", {})
    assert "Adding todo: buy milk" in host.logs


async def test_unknown_assistant_is_a_404(funchost: Any) -> None:
    host = await funchost(SAMPLE_APP)
    reply = await host.client.post("/api/assistants/ghost?message=hello")
    assert reply.status == 404
    assert await reply.text() == "No assistant 'ghost'. Create it with PUT first."
