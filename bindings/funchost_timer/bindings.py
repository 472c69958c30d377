"""timerTrigger: functions on a schedule; warmupTrigger: functions run by ``GET /admin/warmup``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar

from azure.functions.timer import TimerRequest
from azure.functions.warmup import WarmUpContext

from funchost.plugin import BindingError, BindingSpec, FunctionSpec, Trigger, TriggerData
from funchost_timer.listener import TimerLoop, build_timer_request, utcnow
from funchost_timer.options import TimerOptions, WarmupOptions
from funchost_timer.schedule import ScheduleError, parse_schedule, uses_monitor

if TYPE_CHECKING:
    from funchost_timer.plugin import TimerPlugin


def timer_binding_data(now: datetime, tz: tzinfo) -> dict[str, Any]:
    """The host's binding data: ``TimerTrigger`` = ``DateTime.Now.ToString()`` (en-US, as on Azure)."""
    local = now.astimezone(tz)
    hour = local.hour % 12 or 12
    text = f"{local.month}/{local.day}/{local.year} {hour}:{local.minute:02d}:{local.second:02d} "
    return {"TimerTrigger": text + ("AM" if local.hour < 12 else "PM")}


class TimerTrigger(Trigger[TimerOptions]):
    type = "timerTrigger"
    options = TimerOptions
    supports_retry: ClassVar[bool] = True  # the runtime applies @app.retry to timer runs

    def __init__(self, plugin: TimerPlugin) -> None:
        self.plugin = plugin

    def check(self, function: FunctionSpec, binding: BindingSpec, options: TimerOptions) -> None:
        try:
            parse_schedule(options.schedule)
        except ScheduleError as exc:
            raise BindingError(
                f"property 'schedule' ({options.schedule!r}): {exc}. The schedule expression was not recognized "
                "as a valid cron expression (six fields, seconds first: '0 */5 * * * *') or TimeSpan ('00:05:00')."
            ) from None
        self.plugin.time_zone()  # an unusable WEBSITE_TIME_ZONE puts the timer functions in error

    def admin_input(self, function: FunctionSpec, options: TimerOptions, value: Any) -> TriggerData:
        """The admin API's input is ignored, as by the host: the function gets a TimerRequest that is not past
        due, with the recorded schedule status when the schedule is monitored."""
        if isinstance(value, TimerRequest):
            request = value
        else:
            tz = self.plugin.time_zone()
            schedule = parse_schedule(options.schedule)
            status = None
            if uses_monitor(schedule, options.use_monitor, utcnow()):
                state = self.plugin.runtime.states.get(function.name.lower())
                status = (
                    state.status
                    if state is not None
                    else self.plugin.runtime.store.get(function.name.lower())
                )
            request = build_timer_request(status, False, tz)
        return TriggerData(request, timer_binding_data(utcnow(), self.plugin.time_zone()))

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        tz = self.plugin.time_zone()
        host = self.plugin.host
        for fn in functions:
            options = host.binding_options(fn, fn.trigger.name)
            assert isinstance(options, TimerOptions)
            schedule = parse_schedule(options.schedule)
            monitor = uses_monitor(schedule, options.use_monitor, utcnow())

            async def invoke(request: TimerRequest, reason: str, fn: FunctionSpec = fn) -> None:
                await host.invoke(fn, TriggerData(request, timer_binding_data(utcnow(), tz), reason))

            loop = TimerLoop(
                self.plugin.runtime, fn.name, schedule, tz, monitor, options.run_on_startup, invoke
            )
            self.plugin.loops.append(loop)
            loop.start()


class WarmupTrigger(Trigger[WarmupOptions]):
    type = "warmupTrigger"
    options = WarmupOptions

    def __init__(self, plugin: TimerPlugin) -> None:
        self.plugin = plugin

    def admin_input(self, function: FunctionSpec, options: WarmupOptions, value: Any) -> TriggerData:
        return TriggerData(value if isinstance(value, WarmUpContext) else WarmUpContext(), {})

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        self.plugin.warmup_functions = list(functions)
