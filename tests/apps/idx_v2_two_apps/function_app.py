import azure.functions as func

app = func.FunctionApp()
other = func.FunctionApp()


@app.route(route="one")
def one(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("one")
