"""Toxic types: their attributes (names, units, defaults) and what each does to a stream.

A behaviour is a coroutine `run(toxic, stage)` that consumes chunks from `stage.recv()` and
forwards them with `stage.send()`. It returns INTERRUPTED when the stage was interrupted (the
toxic was updated or removed; in-flight data has been passed on unchanged) or DONE once the end
of stream, or a close of its own, has been sent on. Behaviours read `toxic.attributes` afresh
at each step, so an update takes effect even before the stage restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.toxiproxy.channel import EOF, INTERRUPT, TIMEOUT, Chunk

if TYPE_CHECKING:
    from harness.toxiproxy.link import Stage

DONE = "done"
INTERRUPTED = "interrupted"

Behaviour = Callable[["Toxic", "Stage"], Awaitable[str]]


@dataclass(frozen=True)
class ToxicType:
    name: str
    attributes: tuple[str, ...]
    buffer: int  # input capacity in chunks; latency needs room so it does not cap throughput
    behaviour: Behaviour


class Toxic:
    """One configured toxic, shared by every live link of its stream."""

    def __init__(
        self, name: str, kind: ToxicType, stream: str, stream_text: str, toxicity: float,
        attributes: dict[str, int],
    ) -> None:
        self.name = name
        self.kind = kind
        self.stream = stream  # "upstream" | "downstream"
        self.stream_text = stream_text  # echoed exactly as the client sent it
        self.toxicity = toxicity
        self.attributes = attributes

    @property
    def type(self) -> str:
        return self.kind.name

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": {key: self.attributes[key] for key in self.kind.attributes},
            "name": self.name,
            "type": self.kind.name,
            "stream": self.stream_text,
            "toxicity": self.toxicity,
        }


def check_attributes(kind: str, attrs: dict[str, int]) -> str | None:
    """Reject values that crash Go Toxiproxy (it has no range checks); None when acceptable."""
    if kind == "bandwidth" and attrs["rate"] < 0:
        return "rate must not be negative"
    if kind == "slicer":
        if attrs["average_size"] <= 0:
            return "average_size must be greater than 0"
        if attrs["size_variation"] < 0:
            return "size_variation must not be negative"
        if attrs["size_variation"] > attrs["average_size"]:
            return "size_variation must not be greater than average_size"
    return None


# --- behaviours -------------------------------------------------------------------------------


async def passthrough(_toxic: Toxic | None, stage: Stage) -> str:
    while True:
        item = await stage.recv()
        if item is INTERRUPT:
            return INTERRUPTED
        await stage.send(item)
        if item is EOF:
            return DONE


async def _latency(toxic: Toxic, stage: Stage) -> str:
    loop = asyncio.get_running_loop()
    while True:
        item = await stage.recv()
        if item is INTERRUPT:
            return INTERRUPTED
        if item is EOF:
            await stage.send(EOF)
            return DONE
        delay = toxic.attributes["latency"]
        jitter = toxic.attributes["jitter"]
        if jitter > 0:
            delay += stage.rng.randrange(-jitter, jitter)
        release = item.ts + delay / 1000.0
        wait = release - loop.time()
        if wait > 0:
            if not await stage.sleep(wait):
                await stage.send(item)  # interrupted: the chunk goes on undelayed
                return INTERRUPTED
            item.ts = release  # chained latency toxics add up
        await stage.send(item)


async def _bandwidth(toxic: Toxic, stage: Stage) -> str:
    loop = asyncio.get_running_loop()
    debt = 0.0  # seconds owed; time actually slept is subtracted so timer error does not add up
    while True:
        item = await stage.recv()
        if item is INTERRUPT:
            return INTERRUPTED
        if item is EOF:
            await stage.send(EOF)
            return DONE
        data = item.data
        while data:
            rate = toxic.attributes["rate"]  # KB/s == bytes per ms
            if rate <= 0:
                # Rate 0 holds the data (never drops it) until the toxic changes.
                if not await stage.sleep(None):
                    await stage.send(Chunk(data, item.ts))
                    return INTERRUPTED
                continue
            piece, data = data[: rate * 100], data[rate * 100 :]
            debt += len(piece) / rate / 1000.0
            start = loop.time()
            if not await stage.sleep(debt):
                await stage.send(Chunk(piece + data, item.ts))
                return INTERRUPTED
            debt -= loop.time() - start
            await stage.send(Chunk(piece, item.ts))


async def _slow_close(toxic: Toxic, stage: Stage) -> str:
    while True:
        item = await stage.recv()
        if item is INTERRUPT:
            return INTERRUPTED
        if item is EOF:
            await stage.sleep(toxic.attributes["delay"] / 1000.0)
            await stage.send(EOF)
            return DONE
        await stage.send(item)


async def _timeout(toxic: Toxic, stage: Stage) -> str:
    while True:
        ms = toxic.attributes["timeout"]
        item = await stage.recv(ms / 1000.0 if ms > 0 else None)
        if item is INTERRUPT:
            return INTERRUPTED
        if item is TIMEOUT or item is EOF:
            await stage.send(EOF)
            return DONE
        # Data is swallowed; the sender is never blocked.


async def _reset_peer(toxic: Toxic, stage: Stage) -> str:
    item = await stage.recv()
    if item is INTERRUPT:
        return INTERRUPTED
    # The first chunk (or the end of stream) is discarded; the wait is not interruptible.
    ms = toxic.attributes["timeout"]
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)
    await stage.send(EOF)
    return DONE


def slice_bounds(length: int, average: int, variation: int, randrange: Callable[[int, int], int]) -> list[int]:
    """Cut points splitting `length` bytes by recursive halving (iterative, so no depth limit)."""
    average = max(1, average)
    variation = max(0, min(variation, average))
    cuts = [0]
    stack = [(0, length)]
    while stack:
        start, end = stack.pop()
        if (end - start) - average <= variation:
            cuts.append(end)
            continue
        mid = start + (end - start) // 2
        if variation > 0:
            mid += randrange(-variation, variation)
        mid = min(max(mid, start + 1), end - 1)
        stack.append((mid, end))  # right half after the left half
        stack.append((start, mid))
    return cuts


async def _slicer(toxic: Toxic, stage: Stage) -> str:
    while True:
        item = await stage.recv()
        if item is INTERRUPT:
            return INTERRUPTED
        if item is EOF:
            await stage.send(EOF)
            return DONE
        attrs = toxic.attributes
        cuts = slice_bounds(len(item.data), attrs["average_size"], attrs["size_variation"], stage.rng.randrange)
        delay = attrs["delay"] / 1_000_000.0
        for i in range(len(cuts) - 1):
            await stage.send(Chunk(item.data[cuts[i] : cuts[i + 1]], item.ts))
            if delay > 0 and not await stage.sleep(delay):
                rest = item.data[cuts[i + 1] :]
                if rest:
                    await stage.send(Chunk(rest, item.ts))
                return INTERRUPTED


async def _limit_data(toxic: Toxic, stage: Stage) -> str:
    state = stage.state
    while True:
        item = await stage.recv()
        if item is INTERRUPT:
            return INTERRUPTED
        if item is EOF:
            await stage.send(EOF)
            return DONE
        limit = toxic.attributes["bytes"]
        budget = limit - state.get("count", 0)
        if budget <= 0:
            await stage.send(EOF)
            return DONE
        if len(item.data) > budget:
            item.data = item.data[:budget]
        state["count"] = state.get("count", 0) + len(item.data)
        await stage.send(item)
        if state["count"] >= limit:
            await stage.send(EOF)
            return DONE


TOXIC_TYPES: dict[str, ToxicType] = {
    t.name: t
    for t in (
        ToxicType("latency", ("latency", "jitter"), 1024, _latency),
        ToxicType("bandwidth", ("rate",), 1, _bandwidth),
        ToxicType("slow_close", ("delay",), 1, _slow_close),
        ToxicType("timeout", ("timeout",), 1, _timeout),
        ToxicType("reset_peer", ("timeout",), 1, _reset_peer),
        ToxicType("slicer", ("average_size", "size_variation", "delay"), 1, _slicer),
        ToxicType("limit_data", ("bytes",), 1, _limit_data),
        ToxicType("noop", (), 1, passthrough),
    )
}
