import azure.functions as func

app = func.FunctionApp()


@app.function_name(name="Twin")
@app.route(route="a")
def first(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("a")


@app.function_name(name="Twin")
@app.route(route="b")
def second(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("b")
