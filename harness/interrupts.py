"""A Ctrl-C that is never lost, even when it lands inside an object finalizer.

Python drops any exception raised in `__del__` (it prints "Exception ignored in ..." and goes
on). The harness makes and drops many short-lived redis-py clients while it polls nodes, and
redis-py's pools run code in `__del__`; a SIGINT that arrives while one of them is collected
becomes a KeyboardInterrupt that Python ignores, and the run keeps going as if nobody had
pressed Ctrl-C (seen under load: the interrupted session then slept through its test). This
handler behaves like Python's own, except that inside a finalizer it re-delivers the signal a
moment later, when the finalizer has returned.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

REDELIVERY_DELAY = 0.05  # seconds: long enough for a finalizer to return


def _inside_finalizer(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _redeliver() -> None:
    timer = threading.Timer(REDELIVERY_DELAY, os.kill, (os.getpid(), signal.SIGINT))
    timer.daemon = True
    timer.start()


def handle_sigint(signum: int, frame: FrameType | None) -> None:
    """Raise KeyboardInterrupt as Python does, or later if now it would be swallowed."""
    if _inside_finalizer(frame):
        _redeliver()
        return
    raise KeyboardInterrupt


def install() -> bool:
    """Use `handle_sigint` for SIGINT when Python's default handler is in place.

    Leaves any handler someone else installed alone, and does nothing off the main thread
    (only the main thread may set handlers). Returns whether it installed itself.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False
    signal.signal(signal.SIGINT, handle_sigint)
    return True


def uninstall() -> None:
    """Give SIGINT back to Python's default handler, if `install` put ours there."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is handle_sigint:
        signal.signal(signal.SIGINT, signal.default_int_handler)
