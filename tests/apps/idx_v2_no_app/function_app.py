import azure.functions as func

bp = func.Blueprint()


@bp.route(route="orphan")
def orphan(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never indexed")
