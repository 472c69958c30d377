import azure.functions as func

import assistants
import bindings
import retrieval
import storage
import timer

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="greet")
def greet(req: func.HttpRequest) -> str:
    return " ".join(m.whoami() for m in (bindings, assistants, retrieval, storage, timer))
