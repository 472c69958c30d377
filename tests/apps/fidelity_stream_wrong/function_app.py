"""Imports the streaming extension but keeps classic annotations: the worker refuses to load them."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="classic-request")
def classic_request(req: func.HttpRequest) -> str:
    return "never"


@app.route(route="classic-response")
def classic_response(req: Request) -> func.HttpResponse:
    return func.HttpResponse("never")


@app.route(route="bytes")
def returns_bytes(req: Request) -> bytes:
    return b"never"


@app.route(route="fine")
async def fine(req: Request) -> str:
    return "served"
