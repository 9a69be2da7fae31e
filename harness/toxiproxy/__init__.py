"""An embedded, Toxiproxy 2.12 compatible server: HTTP API, TCP proxying and every toxic.

Fixtures use `EmbeddedToxiproxy` (a background thread in this process) or `ToxiproxyProcess`
(a child process); both expose `.start()`, `.stop()`, `.host`, `.port` and `.url`, and any
Toxiproxy client (toxiproxy-python, the Go client, curl) can drive them.
"""

from harness.toxiproxy.embedded import EmbeddedToxiproxy, ToxiproxyProcess, ToxiproxyStartError
from harness.toxiproxy.server import ToxiproxyServer

__all__ = ["EmbeddedToxiproxy", "ToxiproxyProcess", "ToxiproxyServer", "ToxiproxyStartError"]
