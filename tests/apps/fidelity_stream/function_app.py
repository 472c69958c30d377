"""HTTP streaming with the FastAPI extension, in the shape of the extension's samples."""

import asyncio
import logging
import time
from pathlib import Path

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, StreamingResponse
from pydantic import BaseModel

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

GATE = Path(__file__).parent / ".gate"  # the test creates it to let the stream finish


class Point(BaseModel):
    x: int
    label: str


@app.route(route="stream", methods=[func.HttpMethod.GET])
async def stream(req: Request) -> StreamingResponse:
    """First chunk at once; the rest only after the gate opens (so a client sees chunk 1 mid-stream)."""

    async def generate():
        yield b"first\n"
        while not GATE.exists():
            await asyncio.sleep(0.02)
        for i in range(2, 4):
            yield f"chunk {i}\n".encode()

    logging.info("streaming starts")
    return StreamingResponse(generate(), media_type="text/plain")


@app.route(route="upload", methods=[func.HttpMethod.POST])
async def upload(req: Request) -> JSONResponse:
    """The extension's upload sample: chunks are processed as they arrive (the test sends the second chunk only
    once this function has seen the first)."""
    sizes = []
    async for chunk in req.stream():
        if chunk:
            sizes.append(len(chunk))
            (Path(__file__).parent / ".got-first").touch()
    return JSONResponse({"chunks": len(sizes), "bytes": sum(sizes)})


@app.route(route="count", methods=[func.HttpMethod.POST])
async def count(req: Request) -> JSONResponse:
    total = 0
    async for chunk in req.stream():
        total += len(chunk)
    return JSONResponse({"bytes": total}, status_code=201, headers={"x-counted": "yes"})


@app.route(route="items/{id:int}", methods=[func.HttpMethod.GET])
async def item(req: Request) -> dict:
    return {"id": req.path_params["id"], "q": req.query_params.get("q"), "path": req.url.path}


@app.route(route="plain/{kind}")
def plain(req: Request):
    """Plain values are encoded by FastAPI as JSON (sync functions run in the thread pool)."""
    kind = req.path_params["kind"]
    values = {
        "str": "hello",
        "int": 42,
        "float": 1.5,
        "bool": True,
        "list": [1, "two", None],
        "model": Point(x=1, label="p"),
        "none": None,
    }
    return values[kind]


@app.route(route="boom")
async def boom(req: Request) -> str:
    raise ValueError("kaboom")


@app.route(route="broken-stream")
async def broken_stream(req: Request) -> StreamingResponse:
    async def generate():
        yield b"partial\n"
        raise RuntimeError("generator failed")

    return StreamingResponse(generate())


@app.route(route="sync-stream")
def sync_stream(req: Request) -> StreamingResponse:
    def generate():
        for i in range(3):
            time.sleep(0.01)
            yield f"line {i}\n"

    return StreamingResponse(generate(), media_type="text/plain")
