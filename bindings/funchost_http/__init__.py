"""The HTTP plugin: ``httpTrigger`` and the ``http`` output, written as any third-party plugin would be."""

from funchost.plugin import PluginInfo

__all__ = ["info"]

info = PluginInfo(name="http", factory="funchost_http.plugin:HttpPlugin")
"""The manifest (entry point ``funchost.plugins: http``)."""
