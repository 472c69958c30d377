"""The HTTP plugin object: one router per app version, shared by the trigger and the output."""

from __future__ import annotations

from funchost.plugin import HostApi, Plugin
from funchost_http.bindings import HttpOutput, HttpTrigger, Streaming


class HttpPlugin(Plugin):
    def __init__(self, host: HostApi) -> None:
        streaming = Streaming(host)
        super().__init__("http", host, [HttpTrigger(host, streaming), HttpOutput(streaming)])
