import azure.functions as func

app = func.FunctionApp()


@app.route(route="custom")
def custom(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("custom")
