import json
import logging
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp()

RECORD = Path(os.environ.get("TIMER_RECORD", Path(__file__).parent / "ticks.jsonl"))


def record(name: str, timer: func.TimerRequest, started: float) -> None:
    line = {
        "name": name,
        "past_due": timer.past_due,
        "status": timer.schedule_status,
        "schedule": timer.schedule,
        "start": started,
        "end": time.time(),
        "pid": os.getpid(),
    }
    with RECORD.open("a") as f:
        f.write(json.dumps(line) + "\n")


@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer", run_on_startup=True)
def every_two_seconds(timer: func.TimerRequest) -> None:
    started = time.time()
    logging.info("tick past_due=%s", timer.past_due)
    record("every_two_seconds", timer, started)


@app.timer_trigger(schedule="%SLOW_SCHEDULE%", arg_name="timer")
def slow(timer: func.TimerRequest) -> None:
    started = time.time()
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
    record("slow", timer, started)


@app.schedule(schedule="0 0 * * * *", arg_name="timer")
def hourly(timer: func.TimerRequest) -> None:
    started = time.time()
    logging.info("hourly past_due=%s", timer.past_due)
    record("hourly", timer, started)


@app.warm_up_trigger("context")
def warmup(context) -> None:
    logging.info("Function App instance is warm")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def startup_once(timer: func.TimerRequest) -> None:
    record("startup_once", timer, time.time())
