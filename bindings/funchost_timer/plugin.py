"""The timer plugin object: timer loops of this app version, the kept runtime, and ``/admin/warmup``."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import tzinfo

from aiohttp import web
from azure.functions.warmup import WarmUpContext

from funchost.plugin import (
    BindingError,
    FunctionSpec,
    HostApi,
    InvocationError,
    Plugin,
    ServiceKey,
    TriggerData,
)
from funchost_timer.bindings import TimerTrigger, WarmupTrigger
from funchost_timer.listener import TimerLoop, TimerRuntime
from funchost_timer.schedule import ScheduleError, resolve_time_zone

__all__ = ["RUNTIME", "TimerPlugin"]

RUNTIME: ServiceKey[TimerRuntime] = ServiceKey("timer.runtime", TimerRuntime)
"""The app's timer runtime (schedule statuses, the status store), for tests and tools."""


class TimerPlugin(Plugin):
    def __init__(self, host: HostApi) -> None:
        super().__init__("timer", host, [])
        self.bindings = [TimerTrigger(self), WarmupTrigger(self)]
        self.loops: list[TimerLoop] = []
        self.warmup_functions: list[FunctionSpec] = []
        self._tz: tzinfo | None = None
        self._runtime: TimerRuntime | None = None

    @property
    def runtime(self) -> TimerRuntime:
        if self._runtime is None:
            self._runtime = self.host.keep("timer.runtime", lambda: TimerRuntime(self.host.script_root))
            self.provide(RUNTIME, self._runtime)
        return self._runtime

    def time_zone(self) -> tzinfo:
        """The schedules' time zone (``WEBSITE_TIME_ZONE``, ``TZ``, else UTC); BindingError when unusable."""
        if self._tz is None:
            try:
                tz, warning = resolve_time_zone(
                    self.host.setting("WEBSITE_TIME_ZONE"), self.host.setting("TZ")
                )
            except ScheduleError as exc:
                raise BindingError(str(exc)) from None
            if warning:
                self.host.log.warning(warning)
            self._tz = tz
        return self._tz

    async def start(self) -> None:
        for method in ("GET", "POST"):
            self.host.serve_admin(method, "/admin/warmup", self._warmup)

    async def stop(self) -> None:
        loops, self.loops = self.loops, []
        await asyncio.gather(*(loop.stop() for loop in loops), return_exceptions=True)

    async def _warmup(self, request: web.BaseRequest) -> web.StreamResponse:
        """``GET|POST /admin/warmup``: runs the warmup functions once per process (later calls just answer 200),
        as the host does on the plans that have warmup."""
        runtime = self.runtime
        if not runtime.warmed_up:
            runtime.warmed_up = True
            for fn in self.warmup_functions:
                with contextlib.suppress(InvocationError):  # logged as "Executed ... (Failed ...)"
                    await self.host.invoke(fn, TriggerData(WarmUpContext(), {}))
        return web.Response(status=200)
