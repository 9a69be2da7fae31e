"""The harness's SIGINT handler: a Ctrl-C that lands inside a finalizer is re-delivered, not lost."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from harness import interrupts


@pytest.fixture
def harness_handler():
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, interrupts.handle_sigint)
    yield
    signal.signal(signal.SIGINT, previous)


class _InterruptedWhileCollected:
    """Sends SIGINT to its own process from __del__, so the handler runs inside the finalizer."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # bytecode for the pending handler to run in
            pass


def _drop_and_wait(seconds: float) -> None:
    _InterruptedWhileCollected()  # refcount drops to 0 here: __del__ runs now
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


def test_interrupt_inside_a_finalizer_arrives_after_it(harness_handler) -> None:
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _drop_and_wait(5)
    assert time.monotonic() - started < 2  # re-delivered after REDELIVERY_DELAY, not at the end


def test_pythons_own_handler_loses_it(monkeypatch) -> None:
    """Why the handler exists: with Python's default one the same Ctrl-C is swallowed."""
    ignored: list = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _drop_and_wait(0.3)  # returns normally: Python printed and dropped the KeyboardInterrupt
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [type(u.exc_value) for u in ignored] == [KeyboardInterrupt]


def test_plain_interrupt_raises_at_once(harness_handler) -> None:
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)


def test_install_leaves_a_foreign_handler_alone() -> None:
    def foreign(signum, frame):  # pragma: no cover - never called
        pass

    previous = signal.signal(signal.SIGINT, foreign)
    try:
        assert interrupts.install() is False
        assert signal.getsignal(signal.SIGINT) is foreign
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert interrupts.install() is True
        assert signal.getsignal(signal.SIGINT) is interrupts.handle_sigint
        interrupts.uninstall()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
