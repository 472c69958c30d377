"""An OpenAI-compatible chat-completions and embeddings server on loopback, for tests: OpenAI and Azure OpenAI URL
styles. Embeddings are the offline hashed bag of words (funchost_retrieval.hashing), as floats or base64 as asked."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = ["FakeOpenAIServer", "SeenRequest", "fake_openai_in_thread"]


@dataclass(frozen=True)
class SeenRequest:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names lower-cased."""
    json: Any


@dataclass(frozen=True)
class _Reply:
    status: int = 200
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAIServer:
    """Answers OpenAI-style and Azure-style chat-completions posts from a queue of scripted replies."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        """When set, requests must carry it: Bearer (OpenAI style), ``api-key`` or Bearer (Azure style)."""
        self.requests: list[SeenRequest] = []
        self._queue: deque[_Reply] = deque()
        self._embedding_errors: deque[_Reply] = deque()
        self.embedding_dimensions = 1536
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._served = 0

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:PORT`` (the Azure endpoint)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """The OPENAI_BASE_URL to point the SDK at this server."""
        return f"{self.url}/v1"

    def reply(
        self,
        content: str | None = "",
        *,
        tool_calls: list[tuple[str, str, str]] | None = None,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        usage: bool = True,
    ) -> FakeOpenAIServer:
        """Queue a 200 reply; ``tool_calls`` are ``(id, name, arguments_json)``."""
        calls = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in tool_calls or []
        ]
        counts = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        self._queue.append(_Reply(content=content, tool_calls=calls, usage=counts if usage else None))
        return self

    def error(
        self,
        status: int,
        message: str = "fake failure",
        *,
        code: str | None = None,
        retry: bool | None = None,
    ) -> FakeOpenAIServer:
        """Queue an error reply in the OpenAI error shape; ``retry`` sets ``x-should-retry`` when given."""
        headers = {"retry-after-ms": "1"}
        if retry is not None:
            headers["x-should-retry"] = "true" if retry else "false"
        body = {
            "message": message,
            "type": "invalid_request_error" if status < 500 else "server_error",
            "code": code,
        }
        self._queue.append(_Reply(status=status, error=body, headers=headers))
        return self

    def embeddings_error(self, status: int, message: str = "fake embeddings failure") -> FakeOpenAIServer:
        """Make the next embeddings request fail (no retry advised)."""
        body = {"message": message, "type": "invalid_request_error" if status < 500 else "server_error"}
        headers = {"retry-after-ms": "1", "x-should-retry": "false"}
        self._embedding_errors.append(_Reply(status=status, error=body, headers=headers))
        return self

    @property
    def embeddings_requests(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.endswith("/embeddings")]

    @property
    def chat_requests(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def __aenter__(self) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._azure)
        app.router.add_post("/v1/embeddings", self._openai_embeddings)
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self._azure_embeddings)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _openai(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        if self.api_key is not None and seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return self._answer(seen.json.get("model", ""))

    async def _azure(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        if "api-version" not in seen.query:
            return _error(404, "Resource not found (no api-version).", "404")
        if self.api_key is not None and self.api_key not in (
            seen.headers.get("api-key"),
            seen.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return _error(401, "Access denied due to invalid subscription key.", "401")
        return self._answer(request.match_info["deployment"])

    async def _openai_embeddings(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        if self.api_key is not None and seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return self._embed(seen.json, seen.json.get("model", ""))

    async def _azure_embeddings(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        if "api-version" not in seen.query:
            return _error(404, "Resource not found (no api-version).", "404")
        if self.api_key is not None and self.api_key not in (
            seen.headers.get("api-key"),
            seen.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return _error(401, "Access denied due to invalid subscription key.", "401")
        return self._embed(seen.json, request.match_info["deployment"])

    def _embed(self, body: Any, model: str) -> web.Response:
        from funchost_retrieval.hashing import hash_embedding, token_count

        if self._embedding_errors:
            reply = self._embedding_errors.popleft()
            return web.json_response({"error": reply.error}, status=reply.status, headers=reply.headers)
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i for i in inputs):
            return _error(
                400, "'$.input' is invalid: a non-empty string or array of non-empty strings.", None
            )
        data = []
        for index, text in enumerate(inputs):
            vector = hash_embedding(text, self.embedding_dimensions)
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            else:
                embedding = [float(x) for x in vector]
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(token_count(t) for t in inputs)
        answer = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.Response(text=json.dumps(answer), content_type="application/json")

    async def _record(self, request: web.Request) -> SeenRequest:
        seen = SeenRequest(
            path=request.path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            json=await request.json(),
        )
        self.requests.append(seen)
        return seen

    def _answer(self, model: str) -> web.Response:
        if not self._queue:
            response = _error(
                500, "The fake OpenAI server has no reply queued: call server.reply(...).", None
            )
            response.headers["x-should-retry"] = "false"
            return response
        reply = self._queue.popleft()
        if reply.error is not None:
            return web.json_response({"error": reply.error}, status=reply.status, headers=reply.headers)
        self._served += 1
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{self._served}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    "logprobs": None,
                }
            ],
        }
        if reply.usage is not None:
            body["usage"] = reply.usage
        return web.Response(text=json.dumps(body), content_type="application/json")


def _error(status: int, message: str, code: str | None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "error", "code": code}}, status=status)


@contextmanager
def fake_openai_in_thread(*, api_key: str | None = None) -> Iterator[FakeOpenAIServer]:
    """A FakeOpenAIServer on its own event loop in a thread, for tests that drive a real CLI subprocess.

    Queueing replies from the test thread is safe (the queue is a deque; appends are atomic).
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeOpenAIServer(api_key=api_key)
    asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
