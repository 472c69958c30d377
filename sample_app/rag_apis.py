"""Retrieval (RAG) APIs: ingest a document into a vector collection, then ask questions answered from it."""

import json
import os

import azure.functions as func

rag = func.Blueprint()

COLLECTION = "sample-docs"


@rag.function_name("IngestDocument")
@rag.route(route="rag/ingest", methods=["POST"])
@rag.embeddings_store_output(
    arg_name="requests",
    input="{filePath}",
    input_type="filePath",
    store_connection_name="AISearchEndpoint",
    collection=COLLECTION,
    embeddings_model="text-embedding-3-small",
    max_chunk_length=512,
)
def ingest_document(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    body = req.get_json()
    title = os.path.splitext(os.path.basename(body["filePath"]))[0]
    requests.set(json.dumps({"title": title}))
    return func.HttpResponse(json.dumps({"status": "success", "title": title}), mimetype="application/json")


@rag.function_name("AskDocuments")
@rag.route(route="rag/ask", methods=["POST"])
@rag.semantic_search_input(
    arg_name="result",
    search_connection_name="AISearchEndpoint",
    collection=COLLECTION,
    query="{prompt}",
    embeddings_model="text-embedding-3-small",
    chat_model="%CHAT_MODEL_DEPLOYMENT_NAME%",
    max_knowledge_count=2,
)
def ask_documents(req: func.HttpRequest, result: str) -> func.HttpResponse:
    context = json.loads(result)
    return func.HttpResponse(context["Response"], mimetype="text/plain")
