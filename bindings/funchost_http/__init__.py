"""The HTTP plugin: ``httpTrigger`` and the ``http`` output, written as any third-party plugin would be."""

from __future__ import annotations

from funchost.registry import HostApi, Plugin
from funchost_http.bindings import HttpOutput, HttpTrigger

__all__ = ["HttpOutput", "HttpTrigger", "plugin"]


def plugin(host: HostApi) -> Plugin:
    """Entry point ``funchost.bindings: http``."""
    p = Plugin(host, [HttpTrigger(host), HttpOutput()])
    p.name = "http"
    return p
