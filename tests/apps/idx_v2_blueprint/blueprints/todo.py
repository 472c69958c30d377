import azure.functions as func

bp = func.Blueprint()


@bp.route(route="todos", methods=["GET"])
def get_todos(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("[]")
