"""The HTML leaderboard opened in headless Chromium: tables and plots render, and nothing is fetched.

Requests are read from Chromium's net log. The browser makes requests of its own (component updates,
account checks) whatever the flags; those carry the initiator "not an origin", while every request a
page makes carries the page's origin ("null" for file://). A control page that does fetch shows the
check can fail. The host resolver maps every name to NOTFOUND, so no request could leave the machine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import pytest

from membench.cli.main import main
from membench.registry import import_object

CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "report"
RUNS = FIXTURES / "report_runs.py"
make_runs = import_object(f"{RUNS}:make_runs")
TOY = import_object(f"{RUNS}:TOY")
HALUMEM_TINY = import_object(f"{RUNS}:HALUMEM_TINY")
REPORT_PLUGIN = import_object(f"{RUNS}:REPORT_PLUGIN")
PLUGINS = [f"{TOY}:KeywordSystem", f"{REPORT_PLUGIN}:ScaledToyTask", f"{REPORT_PLUGIN}:XssTask"]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
BROWSER_INITIATED = "not an origin"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)


def chromium(tmp_path: Path, url: str, *extra: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    shutil.rmtree(profile, ignore_errors=True)
    return done.stdout


def page_requests(net_log: Path) -> list[str]:
    """URLs of every request a page (not the browser itself) started."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start
        and "url" in event.get("params", {})
        and event["params"].get("initiator") != BROWSER_INITIATED
    ]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report for every test of the module: the runs take most of the module's time."""
    tmp_path = tmp_path_factory.mktemp("report")
    results_root = tmp_path / "work"
    make_runs(results_root, "scaled-toy", ["keyword", "no-memory"], plugins=PLUGINS)
    make_runs(results_root, "xss", ["keyword", "no-memory"], plugins=PLUGINS)
    # HaluMem's 32 metrics and three systems made the "Every metric" table overflow the page.
    make_runs(results_root, "halumem", ["bm25", "full-context", "no-memory"], HALUMEM_TINY)
    (results_root / "data" / "xss").mkdir(parents=True, exist_ok=True)
    out = tmp_path / "report"
    args = ["report", str(results_root / "results"), "--out", str(out), "--n-boot", "200"]
    assert main([*args, "--data-dir", str(results_root / "data"), *(f"--plugin={p}" for p in PLUGINS)]) == 0
    return out


def test_leaderboard_renders_and_fetches_nothing(report_dir: Path, tmp_path: Path) -> None:
    url = (report_dir / "leaderboard.html").as_uri()
    net_log = tmp_path / "net-log.json"
    dom = chromium(tmp_path, url, "--dump-dom", f"--log-net-log={net_log}")

    assert dom.count('<table class="ranking">') == 3, "one ranking table per board"
    assert dom.count('<table class="metrics wide">') == 3 and '<table class="breakdown wide">' in dom
    assert dom.count('<table class="all-deltas wide">') == 3, "every metric's paired deltas, per board"
    assert dom.count('<svg class="plot"') >= 3, "main-metric plots and the curve plot"
    assert dom.count("<circle") >= 4 and dom.count("<polyline") == 2
    assert "<script" not in dom and "&lt;script&gt;alert" in dom, "dataset script stays text in the DOM"
    assert page_requests(net_log) == [], "the leaderboard must not request anything"

    screenshot = tmp_path / "leaderboard.png"
    chromium(tmp_path, url, f"--screenshot={screenshot}", "--window-size=1280,2000")
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 2000)
    assert len(png) > 50_000, "a blank page compresses to a few kB; tables and plots do not"


#: appended to a copy of the page (without its CSP, which forbids scripts): lists every element whose
#: right edge passes the viewport, outside the boxes that scroll on their own (and inside an SVG, whose
#: box is measured instead), into a <pre id="overflow"> that --dump-dom prints.
MEASURE = """<script>
const viewport = document.documentElement.clientWidth;
const wide = [];
for (const el of document.body.querySelectorAll("*")) {
  const scroller = el.parentElement && el.parentElement.closest(".table-scroll");
  if (scroller || (el.closest("svg") && el.tagName !== "svg")) continue;
  const right = el.getBoundingClientRect().right;
  if (right > viewport + 0.5) wide.push(`${el.tagName}.${el.getAttribute("class")} ${Math.round(right)}`);
}
const out = document.createElement("pre");
out.id = "overflow";
out.textContent = JSON.stringify({viewport, page: document.documentElement.scrollWidth, wide});
document.body.appendChild(out);
</script>"""


def overflow(tmp_path: Path, html: str, width: int) -> dict[str, Any]:
    """What ``html`` lays out wider than a ``width`` px window, every <details> opened."""
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    page = page.replace("<details>", "<details open>").replace("</body>", MEASURE + "</body>")
    copy = tmp_path / f"measure-{width}.html"
    copy.write_text(page)
    dom = chromium(tmp_path, copy.as_uri(), "--dump-dom", f"--window-size={width},2000")
    found = re.search(r'<pre id="overflow">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script ran"
    return dict(json.loads(html_unescape(found.group(1))))


@pytest.mark.parametrize("width", [1400, 800])
def test_nothing_is_wider_than_the_window_and_wide_tables_scroll_in_their_box(
    report_dir: Path, tmp_path: Path, width: int
) -> None:
    measured = overflow(tmp_path, (report_dir / "leaderboard.html").read_text(), width)
    assert measured["viewport"] <= width and measured["wide"] == []
    assert measured["page"] == measured["viewport"], "the page itself never scrolls sideways"


def test_the_width_check_can_fail(tmp_path: Path) -> None:
    html = '<!DOCTYPE html><html><body><div class="too-wide" style="width:1200px">x</div></body></html>'
    measured = overflow(tmp_path, html, 800)
    assert measured["wide"] == ["DIV.too-wide 1208"] and measured["page"] > 800


def test_run_pages_fetch_nothing(report_dir: Path, tmp_path: Path) -> None:
    net_log = tmp_path / "net-log.json"
    page = next((report_dir / "runs").glob("xss__keyword__*.html"))
    dom = chromium(tmp_path, page.as_uri(), "--dump-dom", f"--log-net-log={net_log}")
    assert re.search(r'<section class="probe scored" id="p-ep0:q0">', dom)
    assert "<script" not in dom and "<img" not in dom
    assert page_requests(net_log) == []


def test_the_request_check_can_fail(tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><p>control</p><img src="http://membench.invalid/canary.png">')
    net_log = tmp_path / "net-log.json"
    chromium(tmp_path, control.as_uri(), "--dump-dom", f"--log-net-log={net_log}")
    assert page_requests(net_log) == ["http://membench.invalid/canary.png"]
