import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="raw", methods=["POST"])
@app.embeddings_input(arg_name="embeddings", input="{text}", input_type="rawText", embeddings_model="emb")
def raw(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    return func.HttpResponse(embeddings, mimetype="application/json")


@app.route(route="overlap", methods=["POST"])
@app.embeddings_input(
    arg_name="embeddings", input="{text}", input_type="rawText", embeddings_model="emb", max_chunk_length=100, max_overlap=128
)
def overlap(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    return func.HttpResponse(embeddings)


@app.route(route="file", methods=["POST"])
@app.embeddings_input(arg_name="embeddings", input="{path}", input_type="filePath", embeddings_model="emb", max_chunk_length=64, max_overlap=8)
def file(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    return func.HttpResponse(embeddings, mimetype="application/json")


@app.route(route="ingest", methods=["POST"])
@app.embeddings_store_output(
    arg_name="doc", input="{text}", input_type="rawText", store_connection_name="Search", collection="c",
    embeddings_model="emb",
)
def ingest(req: func.HttpRequest, doc: func.Out[str]) -> func.HttpResponse:
    body = req.get_json()
    doc.set(json.dumps(body.get("payload", {"title": body.get("title", "t")})))
    if body.get("fail"):
        raise RuntimeError("the function failed after setting the output")
    return func.HttpResponse("ok")


@app.route(route="ask", methods=["POST"])
@app.semantic_search_input(
    arg_name="result", search_connection_name="Search", collection="c", query="{q}",
    embeddings_model="emb", chat_model="chat", max_knowledge_count=2,
)
def ask(req: func.HttpRequest, result: str) -> func.HttpResponse:
    return func.HttpResponse(result, mimetype="application/json")
