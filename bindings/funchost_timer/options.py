"""Binding properties of timerTrigger and warmupTrigger."""

from __future__ import annotations

from typing import ClassVar

from funchost.plugin import BindingOptions


class TimerOptions(BindingOptions):
    schedule: str
    run_on_startup: bool = False
    use_monitor: bool = True
    auto_resolve: ClassVar[frozenset[str]] = frozenset({"schedule"})


class WarmupOptions(BindingOptions):
    pass
