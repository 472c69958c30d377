"""An app the reload tests copy and edit: TEXT and helper.SUFFIX are rewritten by the tests."""

import asyncio

import azure.functions as func
import helper

TEXT = "v0"
counter = 0

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="text", methods=["GET"])
def text(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{TEXT} {helper.SUFFIX}")


@app.route(route="count", methods=["GET"])
def count(req: func.HttpRequest) -> func.HttpResponse:
    global counter
    counter += 1
    return func.HttpResponse(str(counter))


@app.route(route="slow", methods=["GET"])
async def slow(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse(f"{TEXT} {helper.SUFFIX}")
