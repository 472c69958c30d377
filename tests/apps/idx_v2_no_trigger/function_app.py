import azure.functions as func

app = func.FunctionApp()


@app.route(route="fine")
def fine(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("fine")


@app.function_name(name="Lonely")
@app.queue_output(arg_name="msg", queue_name="out", connection="AzureWebJobsStorage")
def lonely(msg: func.Out[str]) -> None:
    msg.set("x")
