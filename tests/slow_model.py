"""An OpenAI-compatible echo model on loopback that takes its time: posts that wait on the model, for races."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

__all__ = ["SlowEchoModel", "slow_echo_model"]


class SlowEchoModel:
    """Answers every chat completion with ``re: <last user message>`` after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.served = 0
        self.port = 0

    @property
    def base_url(self) -> str:
        """The OPENAI_BASE_URL to point the openai SDK at this model."""
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self) -> dict[str, str]:
        """Settings that make ``funchost start`` use this model."""
        return {"OPENAI_API_KEY": "slow-model-key", "OPENAI_BASE_URL": self.base_url}

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(self.delay)
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        self.served += 1
        answer = {
            "id": f"chatcmpl-slow-{self.served}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": f"re: {users[-1]['content'] if users else ''}",
                    },
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        return web.Response(text=json.dumps(answer), content_type="application/json")

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        return runner


@contextmanager
def slow_echo_model(delay: float) -> Iterator[SlowEchoModel]:
    """A SlowEchoModel on its own event loop in a thread (for hosts started as subprocesses)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    model = SlowEchoModel(delay)
    runner = asyncio.run_coroutine_threadsafe(model.start(), loop).result(10)
    try:
        yield model
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
