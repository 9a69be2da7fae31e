"""Render results (plus history) as one self-contained HTML page.

One file with inline CSS and SVG and no external asset, so it opens from a CI artifact, an
e-mail attachment or a laptop without network. The page is complete without JavaScript:
sections are native `<details>`, failing tests are open by default and the small inline
script only opens a test's details when the matrix links to it.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from harness.report.model import OUTCOMES, summarize, target_order
from harness.report.redact import redact_value
from harness.report.svg import render_timeline

SYMBOLS = {"pass": "✓", "fail": "✗", "hazard": "⚠", "xfail": "⊘", "skipped": "–"}
TRIAGE_WORDS = {
    "reproducible": "reproducible: failed again with the same seed",
    "flaky": "flaky: passed before with the same seed",
    "unconfirmed": "not rerun with this seed yet",
}

CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;
--pass:#15803d;--pass-bg:#bbf7d0;--fail:#b91c1c;--fail-bg:#fecaca;--hazard:#92400e;--hazard-bg:#fde68a;
--xfail:#6d28d9;--xfail-bg:#ddd6fe;--skipped:#4b5563;--skipped-bg:#e5e7eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#0f172a;color:#f8fafc;padding:20px 32px 18px}
header h1{margin:0 0 4px;font-size:22px;font-weight:650;letter-spacing:.2px}
header .sub{color:#cbd5e1;font-size:13px}
header code{color:#e2e8f0;background:#1e293b;padding:1px 5px;border-radius:4px}
.pills{margin-top:12px;display:flex;gap:8px;flex-wrap:wrap}
.pill{padding:3px 10px;border-radius:999px;font-weight:600;font-size:13px}
main{padding:8px 32px 40px;max-width:1500px}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:6px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-word}
table{border-collapse:collapse}
.matrix{background:#fff;border:1px solid var(--line);min-width:640px}
.matrix th,.matrix td{border:1px solid var(--line);padding:6px 10px;vertical-align:top}
.matrix thead th{background:#f1f5f9;font-size:13px;text-align:center;white-space:nowrap}
.matrix thead th:first-child{text-align:left}
.matrix tr.family th{background:#e2e8f0;text-align:left;font-size:13.5px}
.matrix tr.family .fdesc{font-weight:400;color:#475569;margin-left:8px}
.matrix th.behaviour{font-weight:500;text-align:left;max-width:520px;background:#fff}
.matrix .desc{color:var(--muted);font-size:12px;font-weight:400}
td.cell{text-align:center;min-width:118px;font-weight:650}
td.cell a{display:block;color:inherit}
td.na{color:#cbd5e1;text-align:center;background:#fff}
td.total{text-align:center;font-weight:650;background:#f1f5f9}
td.total .why{display:block;font-weight:400;font-size:11px;color:#6b7280}
.matrix tfoot th{background:#f1f5f9;font-size:12.5px;color:#374151}
nav.jump{margin-top:10px;font-size:13px}nav.jump a{color:#93c5fd;margin-right:14px}
.o-pass{background:var(--pass-bg);color:var(--pass)}
.o-fail{background:var(--fail-bg);color:var(--fail)}
.o-hazard{background:var(--hazard-bg);color:var(--hazard)}
.o-xfail{background:var(--xfail-bg);color:var(--xfail)}
.o-skipped{background:var(--skipped-bg);color:var(--skipped)}
.cell .why{display:block;font-weight:400;font-size:11px;opacity:.85;max-width:190px;margin:0 auto;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.strip{display:inline-flex;gap:2px;vertical-align:middle}
.strip i{display:inline-block;width:8px;height:8px;border-radius:2px;border:1px solid rgba(0,0,0,.12)}
.strip i.o-pass{background:#22c55e}.strip i.o-fail{background:#ef4444}.strip i.o-hazard{background:#f59e0b}
.strip i.o-xfail{background:#8b5cf6}.strip i.o-skipped{background:#d1d5db}
.badge{display:inline-block;padding:1px 8px;border-radius:4px;font-weight:650;font-size:12px}
.triage{display:inline-block;padding:1px 8px;border-radius:4px;font-size:12px;border:1px solid currentColor;margin-left:6px}
.t-reproducible{color:#b91c1c}.t-flaky{color:#b45309}.t-unconfirmed{color:#475569}
.legend{margin:6px 0 12px;display:flex;gap:14px;flex-wrap:wrap;font-size:12.5px;color:#374151}
details.test{background:#fff;border:1px solid var(--line);border-radius:8px;margin:10px 0;overflow:hidden}
details.test>summary{cursor:pointer;padding:9px 14px;list-style:none;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
details.test>summary::-webkit-details-marker{display:none}
details.test>summary:before{content:"▸";color:var(--muted)}details.test[open]>summary:before{content:"▾"}
details.test[open]>summary{border-bottom:1px solid var(--line);background:#f8fafc}
.body{padding:6px 16px 14px}
.summary-name{font-weight:600}.summary-target{color:var(--muted);font-family:ui-monospace,monospace;font-size:12.5px}
.dur{margin-left:auto;color:var(--muted);font-size:12.5px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:8px 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.message{background:#fef2f2;border-left:4px solid #dc2626;padding:8px 12px;margin:8px 0;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px}
.message.m-hazard{background:#fffbeb;border-color:#d97706}.message.m-xfail{background:#f5f3ff;border-color:#7c3aed}
.message.m-skipped{background:#f9fafb;border-color:#9ca3af}
table.grid{background:#fff;font-size:12.5px;margin:4px 0 8px}
table.grid th,table.grid td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
table.grid th{background:#f1f5f9}
table.env td:first-child{color:var(--muted);white-space:nowrap}
.timeline{display:block;max-width:1100px;border:1px solid var(--line);border-radius:6px;margin:6px 0}
.none{color:var(--muted);font-style:italic}
ul.hazards li{color:#92400e}
footer{color:var(--muted);font-size:12px;padding:0 32px 30px}
"""

SCRIPT = """
(function(){function openTarget(){var id=location.hash.slice(1);if(!id)return;var el=document.getElementById(id);
if(el&&el.tagName==='DETAILS'){el.open=true;}}window.addEventListener('hashchange',openTarget);openTarget();})();
"""


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int | float):
        return "?"
    return dt.datetime.fromtimestamp(float(epoch), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _dur(seconds: Any) -> str:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return "?"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"


def _badge(outcome: str) -> str:
    return (f'<span class="badge o-{escape(outcome)}">{SYMBOLS.get(outcome, "?")} '
            f'{escape(OUTCOMES.get(outcome, outcome))}</span>')


def _strip(history: list[dict[str, Any]]) -> str:
    if not history:
        return ""
    items = []
    for item in history:
        outcome = str(item.get("outcome", ""))
        tip = f"{_when(item.get('time'))} seed {item.get('seed')}: {OUTCOMES.get(outcome, outcome)}"
        items.append(f'<i class="o-{escape(outcome)}" title="{escape(tip)}"></i>')
    return f'<span class="strip" aria-label="last {len(items)} runs">{"".join(items)}</span>'


def _triage(test: dict[str, Any]) -> str:
    label = test.get("triage")
    if not label:
        return ""
    new = " · new failure" if test.get("new_failure") else ""
    return (f'<span class="triage t-{escape(label)}" title="{escape(TRIAGE_WORDS.get(label, label))}">'
            f'{escape(label)}{new}</span>')


def render(results: dict[str, Any]) -> str:
    tests: list[dict[str, Any]] = list(results.get("tests", []))
    # run and environment come from results.json, which a user may have edited or produced
    # with an older version: redact again here (cheap) rather than trust the file
    run = redact_value(results.get("run", {}))
    env = redact_value(results.get("environment", {}))
    targets = target_order(list(results.get("targets", [])), tests)
    counts = summarize(tests)
    title = "Redis replication conformance report"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(title)} · {escape(_when(run.get('started')))}</title>",
        f"<style>{CSS}</style></head><body>",
        _header(title, run, counts, tests),
        "<main>",
        _matrix(tests, targets),
        _tests_sections(tests),
        _environment(env, run),
        "</main>",
        f'<footer>schema_version {escape(str(results.get("schema_version")))} · generated '
        f'{escape(str(results.get("generated", "")))} by redis-repl-harness '
        f'{escape(str(env.get("harness_version", "")))}</footer>',
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _header(title: str, run: dict[str, Any], counts: dict[str, int], tests: list[dict[str, Any]]) -> str:
    pills = []
    for outcome in OUTCOMES:
        if counts.get(outcome):
            pills.append(f'<span class="pill o-{outcome}">{counts[outcome]} {escape(OUTCOMES[outcome])}</span>')
    repro = sum(1 for t in tests if t.get("triage") == "reproducible")
    flaky = sum(1 for t in tests if t.get("triage") == "flaky")
    if repro:
        pills.append(f'<span class="pill o-fail">{repro} reproducible</span>')
    if flaky:
        pills.append(f'<span class="pill o-hazard">{flaky} flaky</span>')
    if not tests:
        pills.append('<span class="pill o-skipped">no tests ran</span>')
    seed = run.get("seed")
    rerun = run.get("rerun", "")
    return (
        f'<header><h1>{escape(title)}</h1>'
        f'<div class="sub">{escape(_when(run.get("started")))} · {counts.get("total", 0)} tests in '
        f'{escape(_dur(run.get("duration")))} · root seed <code>{escape(str(seed))}</code>'
        + (f' · rerun: <code>{escape(rerun)}</code>' if rerun else "")
        + f'</div><div class="pills">{"".join(pills)}</div>'
        '<nav class="jump"><a href="#matrix">Matrix</a><a href="#attention">Needs attention</a>'
        '<a href="#tests">All other tests</a><a href="#environment">Environment</a></nav></header>'
    )


def _matrix(tests: list[dict[str, Any]], targets: list[str]) -> str:
    families: dict[str, dict[str, Any]] = {}
    for test in tests:
        fam = families.setdefault(test.get("family", "?"), {"desc": test.get("family_description", ""),
                                                          "rows": {}})
        row = fam["rows"].setdefault(test.get("behaviour_key", test["nodeid"]), {
            "behaviour": test.get("behaviour", ""), "description": test.get("description", ""), "cells": {}})
        row["cells"].setdefault(test.get("target", ""), test)
    head = "".join(f"<th>{escape(t or '(any)')}</th>" for t in targets)
    body = []
    for family, fam in families.items():
        shown = fam["desc"] and fam["desc"].rstrip(".") != family.rstrip(".")
        desc = f'<span class="fdesc">{escape(fam["desc"])}</span>' if shown else ""
        body.append(f'<tr class="family"><th colspan="{len(targets) + 1}">{escape(family)}{desc}</th></tr>')
        for row in fam["rows"].values():
            cells = []
            for target in targets:
                test = row["cells"].get(target)
                if test is None:
                    cells.append('<td class="na" title="not run for this target">—</td>')
                    continue
                outcome = test["outcome"]
                why = test.get("message", "")
                tip = f"{OUTCOMES.get(outcome, outcome)}: {why}" if why else OUTCOMES.get(outcome, outcome)
                extra = f'<span class="why">{escape(why)}</span>' if why and outcome != "pass" else ""
                cells.append(
                    f'<td class="cell o-{escape(outcome)}" data-outcome="{escape(outcome)}">'
                    f'<a href="#{escape(test["id"])}" title="{escape(tip)}">{SYMBOLS.get(outcome, "?")} '
                    f'{escape(OUTCOMES.get(outcome, outcome))}{extra}</a>'
                    f'{_strip(test.get("history", []))}{_triage(test)}</td>'
                )
            description = row["description"]
            sub = (f'<div class="desc">{escape(description)}</div>'
                   if description and description != row["behaviour"] else "")
            body.append(f'<tr><th class="behaviour" scope="row">{escape(row["behaviour"])}{sub}</th>'
                        f'{"".join(cells)}</tr>')
    legend = "".join(f'<span>{_badge(o)}</span>' for o in OUTCOMES)
    legend += '<span><span class="strip"><i class="o-pass"></i><i class="o-fail"></i></span> last runs, oldest first</span>'
    if not tests:
        return '<section id="matrix"><h2>Conformance matrix</h2><p class="none">No tests ran.</p></section>'
    foot = []
    for target in targets:
        mine = [t for t in tests if t.get("target", "") == target]
        held = sum(1 for t in mine if t["outcome"] in ("pass", "hazard"))
        ran = sum(1 for t in mine if t["outcome"] in ("pass", "hazard", "fail"))
        foot.append(f'<td class="total">{held}/{ran} held'
                    + (f'<span class="why">{len(mine) - ran} not run</span>' if len(mine) > ran else "")
                    + "</td>")
    return (f'<section id="matrix"><h2>Conformance matrix</h2><div class="legend">{legend}</div>'
            f'<table class="matrix"><thead><tr><th>Behaviour</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody>'
            f'<tfoot><tr><th class="behaviour">Behaviours that held (pass or hazard) of those that ran</th>'
            f'{"".join(foot)}</tr></tfoot></table></section>')


def _tests_sections(tests: list[dict[str, Any]]) -> str:
    attention = [t for t in tests if t["outcome"] in ("fail", "hazard")]
    others = [t for t in tests if t["outcome"] not in ("fail", "hazard")]
    out = ['<section id="attention"><h2>Needs attention</h2>']
    if attention:
        out += [_test(t, open_=True) for t in attention]
    else:
        out.append('<p class="none">Nothing failed and no hazard was reproduced.</p>')
    out.append("</section>")
    out.append('<section id="tests"><h2>All other tests</h2>')
    out += [_test(t, open_=False) for t in others] or ['<p class="none">None.</p>']
    out.append("</section>")
    return "\n".join(out)


def _test(test: dict[str, Any], open_: bool) -> str:
    outcome = test["outcome"]
    target = test.get("target") or ""
    facts = [
        ("checks", escape(test.get("description", ""))),
        ("test", f'<code>{escape(test["nodeid"])}</code>'),
        ("target", escape(target or "(any)")),
        ("root seed", f'<code>{escape(str(test.get("seed")))}</code>'),
        ("rerun", f'<code>{escape(test.get("rerun", ""))}</code>'),
        ("duration", escape(_dur(test.get("duration")))),
    ]
    if test.get("history"):
        facts.append(("last runs", _strip(test["history"]) + _triage(test)))
    if test.get("nodes"):
        facts.append(("nodes", ", ".join(
            f'{escape(str(n.get("name")))} <span class="summary-target">{escape(str(n.get("label")))} '
            f'{escape(str(n.get("address")))}</span>' for n in test["nodes"])))
    body = [f'<dl class="facts">{"".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)}</dl>']
    message = test.get("message", "")
    if message:
        body.append(f'<div class="message m-{escape(outcome)}">{escape(message)}</div>')
    if test.get("hazards"):
        body.append('<h3>Hazards reproduced</h3><ul class="hazards">'
                    + "".join(f"<li>{escape(h)}</li>" for h in test["hazards"]) + "</ul>")
    svg = render_timeline(test)
    body.append("<h3>Timeline</h3>")
    body.append(svg or '<p class="none">No samples or events were recorded (the test started no nodes).</p>')
    body.append("<h3>Sync ledger</h3>")
    body.append(_ledger(test))
    if test.get("events"):
        body.append(f'<details><summary>Events ({len(test["events"])})</summary>{_events(test)}</details>')
    if test.get("longrepr"):
        body.append(f'<h3>Failure</h3><pre>{escape(test["longrepr"])}</pre>')
    for name, text in (test.get("logs") or {}).items():
        body.append(f'<details{" open" if outcome == "fail" else ""}><summary>Log tail of '
                    f'<b>{escape(name)}</b></summary><pre>{escape(text)}</pre></details>')
    summary = (f'{_badge(outcome)}<span class="summary-name">{escape(test.get("family", ""))} › '
               f'{escape(test.get("behaviour", ""))}</span><span class="summary-target">[{escape(target or "any")}]</span>'
               f'{_triage(test)}<span class="dur">{escape(_dur(test.get("duration")))}</span>')
    return (f'<details class="test" id="{escape(test["id"])}"{" open" if open_ else ""}>'
            f'<summary>{summary}</summary><div class="body">{"".join(body)}</div></details>')


def _rel(value: Any, started: Any) -> str:
    if isinstance(value, int | float) and isinstance(started, int | float):
        return f"{float(value) - float(started):.2f}s"
    return "" if value is None else str(value)


def _ledger(test: dict[str, Any]) -> str:
    rows = [r for r in test.get("ledger", []) if isinstance(r, dict)]
    if not rows:
        return '<p class="none">No (re)synchronisation was recorded.</p>'
    preferred = ["what", "replica", "master", "kind", "sync_full", "sync_partial_ok", "sync_partial_err",
                 "start", "end", "time"]
    keys = [k for k in preferred if any(k in r for r in rows)]
    keys += [k for r in rows for k in r if k not in keys]
    keys = list(dict.fromkeys(keys))
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    started = test.get("started")
    lines = []
    for row in rows:
        cells = []
        for key in keys:
            value = row.get(key, "")
            text = _rel(value, started) if key in ("start", "end", "time") else str(value)
            cls = f' class="o-{"pass" if value == "partial" else "hazard"}"' if key == "kind" and value else ""
            cells.append(f"<td{cls}>{escape(text)}</td>")
        lines.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'


def _events(test: dict[str, Any]) -> str:
    started = test.get("started")
    lines = []
    for ev in test.get("events", []):
        detail = ", ".join(f"{k}={v}" for k, v in (ev.get("detail") or {}).items())
        lines.append(f"<tr><td>{escape(_rel(ev.get('start'), started))}</td>"
                     f"<td>{escape(_rel(ev.get('end'), started))}</td><td>{escape(str(ev.get('kind')))}</td>"
                     f"<td>{escape(str(ev.get('name')))}</td><td>{escape(str(ev.get('target')))}</td>"
                     f"<td>{escape(detail)}</td></tr>")
    return ('<table class="grid"><thead><tr><th>start</th><th>end</th><th>kind</th><th>name</th>'
            f'<th>target</th><th>detail</th></tr></thead><tbody>{"".join(lines)}</tbody></table>')


def _environment(env: dict[str, Any], run: dict[str, Any]) -> str:
    rows = [
        ("harness", env.get("harness_version", "")),
        ("python", env.get("python", "")),
        ("pytest", env.get("pytest", "")),
        ("redis-py", env.get("redis_py", "")),
        ("platform", env.get("platform", "")),
        ("command line", run.get("command_line", "")),
        ("rerun whole run", run.get("rerun", "")),
        ("root seed", f'{run.get("seed")}' + ("" if run.get("seed_was_given") else " (chosen for this run)")),
        ("workers", run.get("workers", "")),
    ]
    tox = env.get("toxiproxy") or {}
    rows.append(("Toxiproxy", f'{tox.get("kind") or "?"} {tox.get("url") or ""}'.strip()))
    for key, value in (env.get("options") or {}).items():
        rows.append((f"option {key}", ", ".join(map(str, value)) if isinstance(value, list) else value))
    table = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in rows)
    builds = env.get("builds") or []
    build_rows = "".join(
        f"<tr><td>{escape(str(b.get('label')))}</td><td>{escape(str(b.get('backend')))}</td>"
        f"<td>{escape(str(b.get('version')))}</td><td><code>{escape(str(b.get('location')))}</code></td>"
        f"<td>{escape(str(b.get('source')))}</td></tr>" for b in builds)
    builds_html = (f'<h3>Servers</h3><table class="grid"><thead><tr><th>label</th><th>backend</th>'
                   f'<th>version</th><th>location</th><th>found via</th></tr></thead><tbody>{build_rows}</tbody></table>'
                   if builds else '<p class="none">No server builds were recorded.</p>')
    missing = env.get("missing") or []
    missing_html = ("<h3>Not found</h3><ul>" + "".join(f"<li>{escape(str(m))}</li>" for m in missing) + "</ul>"
                    if missing else "")
    return (f'<section id="environment"><h2>Environment</h2>{builds_html}{missing_html}'
            f'<h3>Run</h3><table class="grid env"><tbody>{table}</tbody></table></section>')
