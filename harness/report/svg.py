"""A test's timeline as one inline SVG: offsets, lag, link states, faults and events over time.

Static SVG (no script, no external font or stylesheet) because the report must be readable
as a single file, offline, in any browser and in a CI artifact viewer. Tooltips are SVG
`<title>` elements, which browsers show natively. The drawing is computed from the test
record alone so `python -m harness report` redraws it identically from results.json.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

PALETTE = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"]
STATE_COLOURS = {
    "master": ("#93c5fd", "master"),
    "up": ("#4ade80", "link up"),
    "sync": ("#fbbf24", "syncing"),
    "down": ("#f87171", "link down"),
    "unreachable": ("#6b7280", "unreachable"),
}
FAULT_COLOUR = "#f97316"
EVENT_COLOURS = {"node": "#b91c1c", "topology": "#1d4ed8", "sync": "#047857"}

WIDTH = 1000
LEFT = 128
RIGHT = 18
PLOT_W = WIDTH - LEFT - RIGHT
MAX_POINTS = 600  # per series; more points add bytes, not information, at this width


def fmt_bytes(value: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{int(value)} B"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _time_ticks(tmax: float) -> list[float]:
    raw = tmax / 8
    exp = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(s * exp for s in (1, 2, 5, 10) if raw <= s * exp)
    count = int(tmax / step) + 1
    return [round(i * step, 6) for i in range(count)]


def node_offset(fields: dict[str, Any]) -> int | None:
    """The replication offset a node has reached: its own stream (master) or what it applied."""
    if not fields.get("reachable", True):
        return None
    if fields.get("role") == "slave" and isinstance(fields.get("slave_repl_offset"), int):
        return int(fields["slave_repl_offset"])
    value = fields.get("master_repl_offset")
    return int(value) if isinstance(value, int) else None


def node_state(fields: dict[str, Any]) -> str:
    if not fields.get("reachable", True):
        return "unreachable"
    if fields.get("role") != "slave":
        return "master"
    if fields.get("master_sync_in_progress") in (1, "1"):
        return "sync"
    return "up" if fields.get("master_link_status") == "up" else "down"


def _series(samples: list[list[Any]]) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    by_node: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for item in samples:
        if not isinstance(item, list | tuple) or len(item) != 3 or not isinstance(item[2], dict):
            continue
        t, node, fields = item
        by_node.setdefault(str(node), []).append((float(t), fields))
    for points in by_node.values():
        points.sort(key=lambda p: p[0])
    return by_node


def replica_lag(series: dict[str, list[tuple[float, dict[str, Any]]]]) -> dict[str, list[tuple[float, int | None]]]:
    """Bytes each replica is behind the furthest master at the same moment (None: unknown)."""
    masters: list[tuple[float, str, int]] = []
    for name, points in series.items():
        for t, fields in points:
            off = node_offset(fields)
            if off is not None and fields.get("role") == "master":
                masters.append((t, name, off))
    masters.sort()
    lag: dict[str, list[tuple[float, int | None]]] = {}
    for name, points in series.items():
        if not any(f.get("role") == "slave" for _, f in points):
            continue
        out: list[tuple[float, int | None]] = []
        latest: dict[str, int] = {}
        cursor = 0
        for t, fields in points:  # both lists are in time order: one merge pass
            while cursor < len(masters) and masters[cursor][0] <= t:
                latest[masters[cursor][1]] = masters[cursor][2]
                cursor += 1
            off = node_offset(fields)
            if off is None or fields.get("role") != "slave":
                out.append((t, None))
                continue
            out.append((t, max(0, max(latest.values()) - off) if latest else None))
        lag[name] = out
    return lag


def _thin(points: list[Any], limit: int = MAX_POINTS) -> list[Any]:
    if len(points) <= limit:
        return points
    step = len(points) / limit
    picked = [points[int(i * step)] for i in range(limit)]
    picked[-1] = points[-1]
    return picked


def _pack(windows: list[tuple[float, float, dict[str, Any]]], max_rows: int = 4) -> list[int]:
    """Greedy row assignment so overlapping fault windows get their own rows."""
    ends: list[float] = []
    rows = []
    for start, end, _ in windows:
        for row, last in enumerate(ends):
            if start >= last:
                ends[row] = end
                rows.append(row)
                break
        else:
            if len(ends) < max_rows:
                ends.append(end)
                rows.append(len(ends) - 1)
            else:
                rows.append(max_rows - 1)
    return rows


def render_timeline(test: dict[str, Any]) -> str:
    """The SVG for one test record, or "" when it has neither samples nor events."""
    samples = test.get("samples") or []
    events = [e for e in (test.get("events") or []) if isinstance(e, dict)]
    if not samples and not events:
        return ""
    started = float(test.get("started") or 0.0)
    series = _series(samples)
    node_names = [n.get("name") for n in test.get("nodes", []) if isinstance(n, dict)]
    names = [n for n in node_names if n in series] + [n for n in series if n not in node_names]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}

    def rel(value: Any) -> float:
        return float(value) - started if value else 0.0

    windows: list[tuple[float, float, dict[str, Any]]] = []
    points_ev: list[tuple[float, dict[str, Any]]] = []
    tmax = max([float(test.get("duration") or 0)] + [p[-1][0] for p in series.values() if p] + [0.5])
    for ev in events:
        start = rel(ev.get("start"))
        end = ev.get("end")
        if ev.get("kind") == "fault" or (end is not None and float(end) > float(ev.get("start") or 0)):
            windows.append((start, rel(end) if end is not None else None, ev))  # type: ignore[arg-type]
        else:
            points_ev.append((start, ev))
        tmax = max(tmax, start, rel(end) if end else 0)
    windows = [(s, e if e is not None else tmax, ev) for s, e, ev in windows]
    windows.sort(key=lambda w: w[0])
    tmax = max(tmax, 0.5)

    def x(t: float) -> float:
        return round(LEFT + max(0.0, min(t, tmax)) / tmax * PLOT_W, 1)

    out: list[str] = []
    y = 6
    # -- point-event labels (up to three rows so close events do not overprint) -------------
    label_top = y
    y += 43
    # -- fault lanes ----------------------------------------------------------------------
    rows = _pack(windows)
    fault_rows = (max(rows) + 1) if rows else 0
    fault_top = y
    y += fault_rows * 17 + (4 if fault_rows else 0)
    # -- offsets panel ----------------------------------------------------------------------
    off_top, off_h = y + 4, 130
    y = off_top + off_h + 8
    lag = replica_lag(series)
    lag_top, lag_h = (y + 14, 70) if lag else (y, 0)
    y = lag_top + lag_h + (8 if lag else 0)
    lanes_top = y + 4
    y = lanes_top + 16 * len(names)
    axis_y = y + 2
    y = axis_y + 22
    legend_y = y + 4
    legend = _legend(names, colours, bool(windows), legend_y)
    height = (max(item[4] for item in legend) if legend else legend_y) + 22

    shade_top, shade_bottom = off_top, axis_y  # below the fault bars, down through the lanes
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="timeline of {escape(str(test.get("nodeid", "")))}" '
        f'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="11">'
    )
    out.append(f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>')

    # fault windows: a labelled bar in the fault lanes, and shading drawn over all panels later
    shades: list[str] = []
    for (start, end, ev), row in zip(windows, rows, strict=True):
        x0, x1 = x(start), max(x(end), x(start) + 2)
        label = f"{ev.get('name', 'fault')} {ev.get('target', '')}".strip()
        detail = ", ".join(f"{k}={v}" for k, v in (ev.get("detail") or {}).items())
        tip = f"{label} {start:.2f}s–{end:.2f}s" + (f" ({detail})" if detail else "")
        shades.append(f'<rect x="{x0}" y="{shade_top}" width="{x1 - x0:.1f}" height="{shade_bottom - shade_top}" '
                      f'fill="{FAULT_COLOUR}" fill-opacity="0.12"><title>{escape(tip)}</title></rect>')
        ry = fault_top + row * 17
        out.append(f'<rect class="fault" x="{x0}" y="{ry}" width="{x1 - x0:.1f}" height="14" rx="3" '
                   f'fill="{FAULT_COLOUR}" fill-opacity="0.85"><title>{escape(tip)}</title></rect>')
        if x1 - x0 > 40:
            out.append(f'<text x="{x0 + 4}" y="{ry + 10.5}" fill="#fff" font-weight="600">'
                       f'{escape(_fit(label, (x1 - x0 - 6) / 6.2))}</text>')
    if fault_rows:
        out.append(f'<text x="{LEFT - 8}" y="{fault_top + 10.5}" text-anchor="end" fill="#374151">faults</text>')

    # offsets panel
    max_off = max([node_offset(f) or 0 for pts in series.values() for _, f in pts] + [0])
    top_off = _nice_max(max(max_off, 10))  # at least 10 B so the axis labels differ
    _panel(out, off_top, off_h, "offset", top_off, fmt_bytes)
    for name in names:
        pts = [(t, node_offset(f)) for t, f in series[name]]
        master = any(f.get("role") == "master" for _, f in series[name])
        _polyline(out, pts, x, lambda v: off_top + off_h - v / top_off * off_h, colours[name], name,
                  width=3.2 if master else 1.8)

    # lag panel
    if lag:
        max_lag = max([v or 0 for pts in lag.values() for _, v in pts] + [0])
        top_lag = _nice_max(max(max_lag, 10))
        _panel(out, lag_top, lag_h, "replica lag", top_lag, fmt_bytes)
        for name, pts in lag.items():
            _polyline(out, pts, x, lambda v: lag_top + lag_h - v / top_lag * lag_h, colours[name], f"{name} lag")

    # state lanes
    for i, name in enumerate(names):
        ly = lanes_top + i * 16
        out.append(f'<text x="{LEFT - 8}" y="{ly + 10.5}" text-anchor="end" fill="{colours[name]}" '
                   f'font-weight="600">{escape(_fit(name, 18))}</text>')
        out.append(f'<rect x="{LEFT}" y="{ly}" width="{PLOT_W}" height="13" fill="#f3f4f6"/>')
        for t0, t1, state in _segments(series[name], tmax):
            colour, words = STATE_COLOURS[state]
            out.append(f'<rect class="state-{state}" x="{x(t0)}" y="{ly}" width="{max(x(t1) - x(t0), 1):.1f}" '
                       f'height="13" fill="{colour}"><title>{escape(name)}: {words} '
                       f'{t0:.2f}s–{t1:.2f}s</title></rect>')

    out.extend(shades)

    # point events: dashed line through everything + staggered label on top
    row_ends = [0.0, 0.0, 0.0]
    for t, ev in sorted(points_ev, key=lambda p: p[0]):
        colour = EVENT_COLOURS.get(str(ev.get("kind")), "#374151")
        px = x(t)
        label = _fit(f"{ev.get('name', '')} {ev.get('target', '')}".strip(), 22)
        detail = ", ".join(f"{k}={v}" for k, v in (ev.get("detail") or {}).items())
        tip = f"{ev.get('kind', 'event')}: {label} at {t:.2f}s" + (f" ({detail})" if detail else "")
        free = [i for i, end in enumerate(row_ends) if px >= end]
        if free:
            row = free[0]
        else:  # all rows busy here: the line and its tooltip still show it
            row, label = min(range(3), key=lambda i: row_ends[i]), ""
        row_ends[row] = px + 6.5 * len(label) + 8
        ty = label_top + 11 + row * 13
        out.append(f'<g class="event"><title>{escape(tip)}</title>'
                   f'<line x1="{px}" y1="{ty + 2}" x2="{px}" y2="{axis_y}" stroke="{colour}" '
                   f'stroke-width="1.2" stroke-dasharray="4 3"/>'
                   f'<text x="{px + 3}" y="{ty}" fill="{colour}" font-weight="600">'
                   f'{escape(label)}</text></g>')

    # time axis
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{LEFT + PLOT_W}" y2="{axis_y}" stroke="#9ca3af"/>')
    for tick in _time_ticks(tmax):
        tx = x(tick)
        out.append(f'<line x1="{tx}" y1="{axis_y}" x2="{tx}" y2="{axis_y + 4}" stroke="#9ca3af"/>'
                   f'<text x="{tx}" y="{axis_y + 15}" text-anchor="middle" fill="#4b5563">{tick:g}s</text>')

    # legend (wrapped onto more rows when there are many nodes)
    for kind, colour, words, gx, gy in legend:
        if kind == "line":
            out.append(f'<line x1="{gx}" y1="{gy + 6}" x2="{gx + 16}" y2="{gy + 6}" '
                       f'stroke="{colour}" stroke-width="2.5"/>'
                       f'<text x="{gx + 20}" y="{gy + 10}" fill="#111827">{escape(words)}</text>')
        else:
            out.append(f'<rect x="{gx}" y="{gy}" width="12" height="12" fill="{colour}"/>'
                       f'<text x="{gx + 16}" y="{gy + 10}" fill="#111827">{escape(words)}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend(names: list[str], colours: dict[str, str], faults: bool,
            top: float) -> list[tuple[str, str, str, float, float]]:
    """(kind, colour, text, x, y) of each legend item, wrapped to the chart's width."""
    items: list[tuple[str, str, str, float]] = [
        ("line", colours[name], _fit(name, 16), 30 + 6.5 * min(len(name), 16)) for name in names]
    for state in ("master", "up", "sync", "down", "unreachable"):
        colour, words = STATE_COLOURS[state]
        items.append(("box", colour, words, 26 + 6.2 * len(words)))
    if faults:
        items.append(("box", FAULT_COLOUR, "fault window", 26 + 6.2 * 12))
    placed: list[tuple[str, str, str, float, float]] = []
    lx, ly = float(LEFT), float(top)
    for kind, colour, words, width in items:
        if lx + width > WIDTH - RIGHT and lx > LEFT:
            lx, ly = float(LEFT), ly + 18
        placed.append((kind, colour, words, lx, ly))
        lx += width
    return placed


def _fit(text: str, chars: float) -> str:
    limit = max(int(chars), 1)
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def _panel(out: list[str], top: float, height: float, title: str, top_value: float, fmt: Any) -> None:
    out.append(f'<rect x="{LEFT}" y="{top}" width="{PLOT_W}" height="{height}" fill="#fafafa" stroke="#e5e7eb"/>')
    for frac in (0.0, 0.5, 1.0):
        gy = round(top + height - frac * height, 1)
        out.append(f'<line x1="{LEFT}" y1="{gy}" x2="{LEFT + PLOT_W}" y2="{gy}" stroke="#e5e7eb"/>'
                   f'<text x="{LEFT - 6}" y="{gy + 3.5}" text-anchor="end" fill="#6b7280">'
                   f'{escape(fmt(top_value * frac))}</text>')
    out.append(f'<text x="8" y="{top + height / 2 + 4}" fill="#374151" font-weight="600">{escape(title)}</text>')


def _polyline(out: list[str], pts: list[tuple[float, Any]], x: Any, y: Any, colour: str, name: str,
              width: float = 1.8) -> None:
    """Draw a series as polylines, broken where the value is unknown (node unreachable)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, value in pts:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((t, float(value)))
    for run in runs:
        if not run:
            continue
        run = _thin(run)
        if len(run) == 1:
            t, v = run[0]
            out.append(f'<circle cx="{x(t)}" cy="{y(v):.1f}" r="2" fill="{colour}"/>')
            continue
        coords = " ".join(f"{x(t)},{y(v):.1f}" for t, v in run)
        out.append(f'<polyline class="series" points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="{width}" stroke-linejoin="round" stroke-opacity="0.9"><title>{escape(name)}</title></polyline>')


def _segments(points: list[tuple[float, dict[str, Any]]], tmax: float) -> list[tuple[float, float, str]]:
    """Merge consecutive samples with the same state into (start, end, state) bands."""
    segs: list[tuple[float, float, str]] = []
    for i, (t, fields) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else min(tmax, t + 0.2)
        state = node_state(fields)
        if segs and segs[-1][2] == state and abs(segs[-1][1] - t) < 1e-9:
            segs[-1] = (segs[-1][0], end, state)
        else:
            segs.append((t, end, state))
    return segs
