import azure.functions as func

import state

state.LOADS += 1
calls = 0

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name(name="Hello")
@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    global calls
    calls += 1
    return func.HttpResponse(f"call {calls} load {state.LOADS}")


@app.route(route="ctx")
async def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(context.function_name)


@app.route(route="enqueue")
@app.queue_output(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set("job")
    return func.HttpResponse("queued")
