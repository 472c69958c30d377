import json
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="settings")
def settings(req: func.HttpRequest) -> func.HttpResponse:
    names = ["GREETING", "DOOMED", "ADDED", "FROM_ENV"]
    return func.HttpResponse(json.dumps({n: os.environ.get(n) for n in names}), mimetype="application/json")
