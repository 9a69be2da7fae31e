"""Condition waits with deadlines.

Every wait in the harness goes through `wait_until`: it polls, never sleeps blindly, and when
the deadline passes it raises an error that says what it was waiting for and what it saw
last — the one thing you need when a replication test times out on CI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from harness.nodes.base import HarnessError

T = TypeVar("T")


class WaitTimeout(HarnessError, AssertionError):
    """A condition did not hold in time. An AssertionError too, so pytest shows it as a failure."""

    def __init__(self, what: str, timeout: float, last: Any) -> None:
        self.what = what
        self.timeout = timeout
        self.last = last
        super().__init__(f"timed out after {timeout:.1f} s waiting for {what}; last seen: {_show(last)}")


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 2000 else text[:2000] + " ..."


class _Failed:
    """A probe that raised: kept as the 'last state' instead of aborting the wait."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        return f"<probe raised {type(self.exc).__name__}: {self.exc}>"


def wait_until(
    probe: Callable[[], T],
    done: Callable[[T], bool] | None = None,
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> T:
    """Poll `probe` until `done(value)` (or truthiness) holds; return that value.

    Exceptions from `probe` count as "not yet" (a restarting node refuses connections) and
    are shown as the last state if time runs out.
    """
    check = done or bool
    last: list[Any] = [None]

    def attempt() -> Any:
        try:
            value = probe()
        except Exception as exc:  # noqa: BLE001 - the probe's failure is a state, not an error
            last[0] = _Failed(exc)
            return last[0]
        last[0] = value
        return value

    def unfinished(value: Any) -> bool:
        return isinstance(value, _Failed) or not check(value)

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(unfinished),
        reraise=False,
    )
    try:
        result: T = retrying(attempt)
    except RetryError:
        raise WaitTimeout(what, timeout, last[0]) from None
    return result


def deadline(timeout: float) -> Callable[[], float]:
    """Seconds left until `timeout` from now, for loops that must share one budget."""
    end = time.monotonic() + timeout
    return lambda: max(0.0, end - time.monotonic())
