"""The sample's hello as an ``async def``: no thread-pool hop (informational row of bench/http_throughput.py)."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="hello", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name", "world")
    return func.HttpResponse(f"Hello, {name}!")
