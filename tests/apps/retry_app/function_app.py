"""Retry policies on timer functions that run once at startup (the yearly schedule never fires in a test)."""

import logging

import azure.functions as func

app = func.FunctionApp()

YEARLY = "0 0 0 1 1 *"


def attempt(name: str, context: func.Context) -> int:
    retry = context.retry_context
    logging.info(
        "%s attempt retry_count=%d max_retry_count=%d previous=%r",
        name,
        retry.retry_count,
        retry.max_retry_count,
        retry.exception.message,
    )
    return retry.retry_count


@app.timer_trigger(schedule=YEARLY, arg_name="timer", run_on_startup=True, use_monitor=False)
@app.retry(strategy="fixed_delay", max_retry_count="3", delay_interval="00:00:01")
def flaky(timer: func.TimerRequest, context: func.Context) -> None:
    if attempt("flaky", context) < 2:
        raise RuntimeError("flaky is not ready yet")
    logging.info("flaky succeeded")


@app.timer_trigger(schedule=YEARLY, arg_name="timer", run_on_startup=True, use_monitor=False)
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:00")
def exhausted(timer: func.TimerRequest, context: func.Context) -> None:
    attempt("exhausted", context)
    raise RuntimeError("exhausted always fails")


@app.timer_trigger(schedule=YEARLY, arg_name="timer", run_on_startup=True, use_monitor=False)
@app.retry(
    strategy="exponential_backoff",
    max_retry_count="-1",
    minimum_interval="00:00:00",
    maximum_interval="00:00:00",
)
def forever(timer: func.TimerRequest, context: func.Context) -> None:
    if attempt("forever", context) < 6:
        raise RuntimeError("forever keeps failing")
    logging.info("forever succeeded")


@app.route(route="fails", auth_level=func.AuthLevel.ANONYMOUS)
@app.retry(strategy="fixed_delay", max_retry_count="3", delay_interval="00:00:01")
def http_fails(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    attempt("http_fails", context)
    raise RuntimeError("http never retries")
