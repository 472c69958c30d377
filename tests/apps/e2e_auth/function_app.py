"""Auth levels for --enable-auth: function (the app default), anonymous and admin."""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="fn", methods=["GET"])
def needs_key(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("function level")


@app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def open_fn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("anonymous")


@app.route(route="adm", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_fn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin level")
