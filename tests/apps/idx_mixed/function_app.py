import azure.functions as func

app = func.FunctionApp()


@app.route(route="modern")
def modern(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("modern")
