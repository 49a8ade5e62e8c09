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
from pathlib import Path

import pytest

from membench.cli.main import main
from membench.registry import import_object

CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "report"
RUNS = FIXTURES / "report_runs.py"
make_runs = import_object(f"{RUNS}:make_runs")
TOY = import_object(f"{RUNS}:TOY")
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


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    results_root = tmp_path / "work"
    make_runs(results_root, "scaled-toy", ["keyword", "no-memory"], plugins=PLUGINS)
    make_runs(results_root, "xss", ["keyword", "no-memory"], plugins=PLUGINS)
    (results_root / "data" / "xss").mkdir(parents=True, exist_ok=True)
    out = tmp_path / "report"
    args = ["report", str(results_root / "results"), "--out", str(out), "--n-boot", "200"]
    assert main([*args, "--data-dir", str(results_root / "data"), *(f"--plugin={p}" for p in PLUGINS)]) == 0
    return out


def test_leaderboard_renders_and_fetches_nothing(report_dir: Path, tmp_path: Path) -> None:
    url = (report_dir / "leaderboard.html").as_uri()
    net_log = tmp_path / "net-log.json"
    dom = chromium(tmp_path, url, "--dump-dom", f"--log-net-log={net_log}")

    assert dom.count('<table class="ranking">') == 2, "one ranking table per board"
    assert dom.count('<table class="metrics">') == 2 and '<table class="breakdown">' in dom
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


def test_run_pages_fetch_nothing(report_dir: Path, tmp_path: Path) -> None:
    net_log = tmp_path / "net-log.json"
    page = next((report_dir / "runs").glob("xss__keyword__*.html"))
    dom = chromium(tmp_path, page.as_uri(), "--dump-dom", f"--log-net-log={net_log}")
    assert re.search(r'<section class="probe scored" id="p-ep0-ep0:q0">', dom)
    assert "<script" not in dom and "<img" not in dom
    assert page_requests(net_log) == []


def test_the_request_check_can_fail(tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><p>control</p><img src="http://membench.invalid/canary.png">')
    net_log = tmp_path / "net-log.json"
    chromium(tmp_path, control.as_uri(), "--dump-dom", f"--log-net-log={net_log}")
    assert page_requests(net_log) == ["http://membench.invalid/canary.png"]
