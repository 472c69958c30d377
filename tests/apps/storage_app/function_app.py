import json
import logging
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="upload/{name}", methods=["POST"])
@app.blob_output(arg_name="out", path="uploads/{name}", connection="AzureWebJobsStorage")
def upload(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse("stored", status_code=201)


@app.blob_trigger(arg_name="blob", path="uploads/{name}.txt", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="work", queue_name="work", connection="AzureWebJobsStorage")
def on_upload(blob: func.InputStream, work: func.Out[str]) -> None:
    text = blob.read().decode()
    logging.info("blob %s length=%s uri=%s", blob.name, blob.length, blob.uri)
    work.set(json.dumps({"name": blob.name.split("/", 1)[1].removesuffix(".txt"), "text": text.upper()}))


@app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="result", path="results/{name}", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage, result: func.Out[str]) -> None:
    body = msg.get_json()
    logging.info("work %s dequeue_count=%s id=%s", body["name"], msg.dequeue_count, msg.id)
    result.set(body["text"])


@app.route(route="results/{name}", methods=["GET"])
@app.blob_input(arg_name="result", path="results/{name}", connection="AzureWebJobsStorage")
def results(req: func.HttpRequest, result: str) -> func.HttpResponse:
    if result is None:
        return func.HttpResponse("no such result", status_code=404)
    return func.HttpResponse(result)


@app.route(route="enqueue/{target}", methods=["POST"])
@app.queue_output(arg_name="msg", queue_name="{target}", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set(req.get_body().decode())
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="doomed", connection="AzureWebJobsStorage")
def doomed(msg: func.QueueMessage) -> None:
    logging.info("doomed attempt %s of %s", msg.dequeue_count, msg.get_body().decode())
    raise RuntimeError("this message can never be processed")


@app.queue_trigger(arg_name="msg", queue_name="slow", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="done", path="done/{id}", connection="AzureWebJobsStorage")
def slow(msg: func.QueueMessage, done: func.Out[str]) -> None:
    logging.info("slow start %s dequeue_count=%s", msg.get_body().decode(), msg.dequeue_count)
    if msg.dequeue_count == 1:
        time.sleep(60)  # the test kills the host here
    done.set(f"{msg.get_body().decode()} after {msg.dequeue_count}")
    logging.info("slow done %s", msg.get_body().decode())


@app.queue_trigger(arg_name="msg", queue_name="bench", connection="AzureWebJobsStorage")
def bench(msg: func.QueueMessage) -> None:
    sent = json.loads(msg.get_body())
    logging.info("bench-done %s %.3f", sent["seq"], (time.time() - sent["at"]) * 1000)
