"""Written for the streaming extension but without importing it: both functions must fail to load."""

import azure.functions as func
from fastapi import Request
from fastapi.responses import StreamingResponse

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="takes-request")
async def takes_request(req: Request) -> str:
    return "never"


@app.route(route="returns-stream")
def returns_stream(req: func.HttpRequest) -> StreamingResponse:
    return StreamingResponse(iter([b"never"]))


@app.route(route="classic")
def classic(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("still served")
