"""The HTML page, its timeline SVG and the JUnit XML, from the synthetic run."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

from harness.report import history as hist
from harness.report.html import render
from harness.report.junit import render_junit
from harness.report.svg import render_timeline, replica_lag

FAILING = "suites/test_incremental_sync.py::test_partial_resync_after_short_drop[redis-7.0.15]"


class Cells(HTMLParser):
    """Collects the matrix cells' outcomes and links, and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.external: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "td" and a.get("data-outcome"):
            self.cells.append(str(a["data-outcome"]))
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append(str(a["href"])[1:])
        if tag == "svg":
            self.svgs += 1
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value and not value.startswith("#"):
                self.external.append(value)
        if tag == "link":
            self.external.append(str(a))


def page(results: dict[str, Any]) -> tuple[str, Cells]:
    html = render(results)
    parser = Cells()
    parser.feed(html)
    return html, parser


def test_matrix_has_every_cell_and_links_resolve(synthetic) -> None:  # type: ignore[no-untyped-def]
    results = synthetic()
    html, parsed = page(results)
    assert len(parsed.cells) == 12
    assert sorted(set(parsed.cells)) == ["fail", "hazard", "pass", "skipped", "xfail"]
    matrix_links = [link for link in parsed.links if link.startswith("t-")]
    assert len(matrix_links) == 12 and set(matrix_links) <= parsed.ids
    # rows are behaviours grouped by family, columns the targets in session order
    assert html.index("Full synchronisation") < html.index("Partial resynchronisation")
    header = re.search(r"<thead><tr><th>Behaviour</th>(.*?)</tr></thead>", html)
    assert header and re.findall(r"<th>(.*?)</th>", header.group(1)) == ["redis-6.2.14", "redis-7.0.15", "pyredis"]


def test_page_is_self_contained_and_redacted(synthetic) -> None:  # type: ignore[no-untyped-def]
    html, parsed = page(synthetic())
    assert parsed.external == []
    assert "@import" not in html and "url(" not in html
    for secret in ("hunter2", "s3cret", "u:pw@"):
        assert secret not in html


def test_failure_details(synthetic) -> None:  # type: ignore[no-untyped-def]
    results = synthetic()
    hist.apply(results, [])
    html, parsed = page(results)
    failing = next(t for t in results["tests"] if t["nodeid"] == FAILING)
    block = html[html.index(f'id="{failing["id"]}"'):]
    block = block[: block.index("</details>\n")]
    assert " open>" in block.split("\n", 1)[0]  # failures are open without JS
    assert "expected a partial resync" in block  # the assertion message
    assert "--harness-seed=424242" in block  # the rerun command
    assert "<svg" in block and "latency r1-&gt;m" in block  # timeline with the fault labelled
    assert "r1 after latency" in block  # the sync ledger
    assert "Log tail of" in block and "Full resync requested" in block
    assert "unconfirmed" in block
    assert parsed.svgs >= 3


def test_skip_xfail_and_hazard_reasons_are_shown(synthetic) -> None:  # type: ignore[no-untyped-def]
    html, _ = page(synthetic())
    assert "needs Redis 7.0+, pyredis emulates 6.2" in html
    assert "known gap on pyredis: no RDB persistence yet" in html
    assert "needs a full resync (no replid in RDB aux)" in html


def test_timeline_shapes(synthetic) -> None:  # type: ignore[no-untyped-def]
    results = synthetic()
    failing = next(t for t in results["tests"] if t["nodeid"] == FAILING)
    svg = render_timeline(failing)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    ET.fromstring(svg)  # well-formed XML
    assert svg.count('class="fault"') == 2
    assert 'class="state-down"' in svg and 'class="state-master"' in svg
    assert svg.count('class="series"') >= 5  # 3 offsets + 2 lags
    restart = next(t for t in results["tests"] if "restart_keeps_replid[redis-7.0.15]" in t["nodeid"])
    svg2 = render_timeline(restart)
    assert 'class="state-unreachable"' in svg2 and svg2.count('class="event"') == 4
    assert render_timeline({"samples": [], "events": []}) == ""


def test_lag_is_master_offset_minus_replica_offset() -> None:
    series = {
        "m": [(0.0, {"role": "master", "master_repl_offset": 100}), (1.0, {"role": "master", "master_repl_offset": 300})],
        "r": [(0.5, {"role": "slave", "slave_repl_offset": 40}), (1.5, {"role": "slave", "slave_repl_offset": 300}),
              (2.0, {"reachable": False})],
    }
    assert replica_lag(series) == {"r": [(0.5, 60), (1.5, 0), (2.0, None)]}


def test_hostile_text_is_escaped(synthetic) -> None:  # type: ignore[no-untyped-def]
    results = synthetic()
    test = results["tests"][0]
    test["message"] = "<script>alert(1)</script>"
    test["events"].append({"kind": "node", "name": "<b>x</b>", "target": "m", "start": test["started"],
                           "end": None, "detail": {}})
    html = render(results)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in html


def test_junit_xml(synthetic) -> None:  # type: ignore[no-untyped-def]
    root = ET.fromstring(render_junit(synthetic()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("12", "1", "2")
    cases = suite.findall("testcase")
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(failing) == 1 and "partial resync" in (failing[0].find("failure").get("message") or "")  # type: ignore[union-attr]
    assert failing[0].get("name") == "test_partial_resync_after_short_drop[redis-7.0.15]"
    hazard = [c for c in cases if any(p.get("name") == "hazard" for p in c.iter("property"))]
    assert len(hazard) == 1
    assert b"hunter2" not in render_junit(synthetic())
