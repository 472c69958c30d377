import azure.functions as func

app = func.FunctionApp()


@app.route(route="good")
def good(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("good")


@app.route(route="mismatch")
def mismatch(req: func.HttpRequest, extra: str) -> func.HttpResponse:
    return func.HttpResponse(extra)


@app.route(route="bad_out")
@app.queue_output(arg_name="msg", queue_name="out", connection="AzureWebJobsStorage")
def bad_out(req: func.HttpRequest, msg: str) -> func.HttpResponse:
    return func.HttpResponse(msg)


@app.route(route="bad_context")
def bad_context(req: func.HttpRequest, context: str) -> func.HttpResponse:
    return func.HttpResponse(context)


@app.function_name(name="host")
@app.route(route="hostfn")
def host_fn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("host")


@app.route(route="dup")
@app.generic_input_binding(arg_name="Req", type="blob", path="c/b", connection="AzureWebJobsStorage")
def dup(req: func.HttpRequest, Req: str) -> func.HttpResponse:  # noqa: N803
    return func.HttpResponse(Req)
