"""The assistant sample: a chat assistant that keeps a todo list, in the shape of the official sample."""

import azure.functions as func

from assistant_apis import apis
from assistant_skills import skills
from rag_apis import rag

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(apis)
app.register_functions(skills)
app.register_functions(rag)


@app.route(route="hello", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name", "world")
    return func.HttpResponse(f"Hello, {name}!")
