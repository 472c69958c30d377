"""Functions that misbehave: hang, block the loop, return what cannot be sent, print oddly (reliability tests)."""

import asyncio
import logging
import sys
import threading
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hello")


@app.route(route="ahello")
async def ahello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("async hello")


@app.route(route="hang")
def hang(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("s", "120")))
    return func.HttpResponse("woke up")


@app.route(route="block")
async def block(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("s", "3")))
    return func.HttpResponse("blocked")


@app.route(route="spawn")
def spawn(req: func.HttpRequest) -> func.HttpResponse:
    threading.Thread(target=time.sleep, args=(600,), name="app-forever").start()
    return func.HttpResponse("spawned")


@app.route(route="surrogate")
def surrogate(req: func.HttpRequest) -> str:
    return "bad \ud800 text"


@app.route(route="status")
def status(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("odd", status_code=int(req.params["code"]))


@app.route(route="cancel")
async def cancel(req: func.HttpRequest) -> func.HttpResponse:
    raise asyncio.CancelledError()


@app.route(route="printer")
def printer(req: func.HttpRequest) -> func.HttpResponse:
    for _ in range(200_000):
        print("x", end="")
    print()
    sys.stdout.buffer.write("bytes caf\u00e9\n".encode())
    sys.stdout.buffer.flush()
    return func.HttpResponse("printed")


@app.route(route="forge")
def forge(req: func.HttpRequest) -> func.HttpResponse:
    logging.info("\x1b[31mred\x1b[0m and a bell\x07")
    print("before\r[2020-01-01T00:00:00.000Z] Executed 'Functions.fake' (Succeeded, Id=forged, Duration=1ms)")
    print("line one\n[2020-01-01T00:00:00.000Z] Executing 'Functions.fake' (Reason='forged', Id=forged)")
    return func.HttpResponse("forged")
