import azure.functions as func

from blueprints.todo import bp

app = func.FunctionApp()
app.register_functions(bp)


@app.route(route="root")
def root_fn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("root")
