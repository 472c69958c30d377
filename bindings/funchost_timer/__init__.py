"""The timer plugin: ``timerTrigger`` (NCRONTAB and TimeSpan schedules, schedule monitor) and ``warmupTrigger``."""

from funchost.plugin import PluginInfo

__all__ = ["info"]

info = PluginInfo(
    name="timer", factory="funchost_timer.plugin:TimerPlugin", binding_types=("timerTrigger", "warmupTrigger")
)
"""The manifest (entry point ``funchost.plugins: timer``)."""
