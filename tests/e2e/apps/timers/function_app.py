import json
import os
from pathlib import Path

import azure.functions as func

app = func.FunctionApp()


def mark(name: str, **fields: object) -> None:
    line = json.dumps({"pid": os.getpid(), **fields}) + "\n"
    fd = os.open(Path(os.environ["MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@app.schedule(schedule="*/1 * * * * *", arg_name="timer", run_on_startup=False)
def every_second(timer: func.TimerRequest) -> None:
    import datetime

    # The occurrence this run belongs to: the nearest whole second (a timer may fire a hair early or late).
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=500)
    mark("every_second", second=now.replace(microsecond=0).isoformat(), past_due=timer.past_due)


@app.schedule(schedule="0 0 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
def hourly(timer: func.TimerRequest) -> None:
    mark("hourly", past_due=timer.past_due)


@app.schedule(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def yearly(timer: func.TimerRequest) -> None:
    mark("yearly", past_due=timer.past_due)
