"""The baseline: a bare aiohttp app doing CreateAssistant's work (and a hello-world), no host in between."""

from __future__ import annotations

import argparse
import json

from aiohttp import web

INSTRUCTIONS = (
    "Don't make assumptions about what values to plug into functions. "
    "Ask for clarification if a user request is ambiguous. "
    "You help people keep a todo list: add tasks with AddTodo and read them with GetTodos."
)
STORE: dict[str, str] = {}


async def create(request: web.Request) -> web.Response:
    """Parse the route, build the same create request JSON, keep it in a dict, answer 202."""
    assistant_id = request.match_info["assistantId"]
    await request.read()
    STORE[assistant_id] = json.dumps(
        {
            "id": assistant_id,
            "instructions": INSTRUCTIONS,
            "chatStorageConnectionSetting": "AzureWebJobsStorage",
            "collectionName": "ChatState",
        }
    )
    return web.Response(
        body=json.dumps({"assistantId": assistant_id}), status=202, content_type="application/json"
    )


async def hello(request: web.Request) -> web.Response:
    """Hello-world, like the sample's hello function."""
    return web.Response(text=f"Hello, {request.query.get('name', 'world')}!")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = web.Application()
    app.router.add_put("/api/assistants/{assistantId}", create)
    app.router.add_get("/api/hello", hello)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
