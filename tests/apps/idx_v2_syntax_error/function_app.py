import azure.functions as func

app = func.FunctionApp()


@app.route(route="broken")
def broken(req: func.HttpRequest) -> func.HttpResponse
    return func.HttpResponse("broken")
