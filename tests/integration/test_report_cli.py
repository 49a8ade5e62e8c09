"""``membench report`` end to end: golden Markdown, byte-stable output, escaping, missing data, errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from membench.cli.main import main
from membench.registry import import_object

FIXTURES = Path(__file__).parents[1] / "fixtures" / "report"
RUNS = FIXTURES / "report_runs.py"
make_runs = import_object(f"{RUNS}:make_runs")
HALUMEM_TINY = import_object(f"{RUNS}:HALUMEM_TINY")
TOY = import_object(f"{RUNS}:TOY")
REPORT_PLUGIN = import_object(f"{RUNS}:REPORT_PLUGIN")
PAYLOAD = import_object(f"{REPORT_PLUGIN}:PAYLOAD")
GOLDEN = FIXTURES / "halumem_leaderboard.md"
KEYWORD = f"{TOY}:KeywordSystem"


def report(results: Path, out: Path, *extra: str) -> int:
    return main(["report", str(results), "--out", str(out), "--n-boot", "200", *extra])


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def halumem_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three HaluMem runs (bm25, no-memory, full-context) reported twice, into ``out`` and ``again``,
    under the returned folder (its ``results`` holds the runs): shared, since the runs take longest."""
    root = tmp_path_factory.mktemp("halumem")
    results = make_runs(root, "halumem", ["bm25", "no-memory", "full-context"], HALUMEM_TINY)
    data = ["--data-dir", str(root / "data")]
    assert report(results, root / "out", *data) == 0
    assert report(results, root / "again", *data) == 0
    return root


def test_halumem_report_matches_golden_and_is_byte_stable(halumem_report: Path) -> None:
    from membench_tasks.halumem.metrics import METRICS

    tmp_path, results = halumem_report, halumem_report / "results"
    assert files(tmp_path / "out") == files(tmp_path / "again"), "same runs must give the same bytes"

    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    if os.environ.get("MEMBENCH_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(markdown)
    assert markdown == GOLDEN.read_text(), "regenerate with MEMBENCH_UPDATE_GOLDEN=1 if the change is meant"

    html = (tmp_path / "out" / "leaderboard.html").read_text()
    for spec in METRICS:
        assert f"| {spec.display} |" in markdown, spec.name
        assert f'<td title="{spec.note}">{spec.display}</td>' in html.replace("&#39;", "'"), spec.name
    pages = sorted((tmp_path / "out" / "runs").glob("*.html"))
    assert [p.stem for p in pages] == sorted(p.name for p in (results / "runs").iterdir())
    assert "not the official release" in markdown


def test_the_html_has_every_table_of_the_markdown_and_one_plot_per_metric_but_variants(
    tmp_path: Path,
) -> None:
    from membench_tasks.halumem.metrics import METRICS

    results = make_runs(tmp_path, "halumem", ["bm25", "no-memory", "full-context"], HALUMEM_TINY)
    assert report(results, tmp_path / "out", "--data-dir", str(tmp_path / "data")) == 0
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    html = (tmp_path / "out" / "leaderboard.html").read_text()
    winner = "No winner: bm25, full-context and no-memory are tied at rank 1 (the data cannot separate them)."
    assert f"**{winner}**" in markdown and f'<p class="winner">{winner}</p>' in html
    # The paired deltas of every metric, in both, from the same Delta objects.
    deltas = html[html.index('<table class="all-deltas wide">') :].split("</table>")[0]
    assert deltas.count("<tr><td>") == len(METRICS)
    assert "<th>bm25</th><th>full-context</th></tr>" in deltas, "the baseline has no column of its own"
    row = next(line for line in markdown.splitlines() if line.startswith("| QA correct | +"))
    md_cells = [cell.strip() for cell in row.split("|")[2:4]]
    assert md_cells == ["+21.4 pt (p=1.000)", "+21.4 pt (p=1.000)"]
    assert '<td class="num">+21.4 pt <span class="ci">(p=1.000)</span></td>' in deltas
    # One plot per metric except the main one (beside the ranking) and the "(all)" variants.
    plotted = [s.display for s in METRICS if not s.variant_of and s.display != "QA correct"]
    grid = html[html.index("<h3>Every metric, plotted</h3>") :].split("</div>")[0]
    assert re.findall(r"<figcaption>(.*?)</figcaption>", grid) == plotted
    assert len(plotted) == 20, "of 35 metrics, 14 are (all) variants and the main one is beside the ranking"
    # Breakdowns as grouped bars: a bar per system with a value, for each non-variant metric.
    breakdown = html[html.index("<h3>Breakdown by memory_type</h3>") :].split("<h3>")[1]
    assert breakdown.count("<svg") == 1, "Type accuracy (all) is a variant: its table only"
    assert breakdown.count("<rect x=") == 9 + 3, "three values x three systems, and a legend of three"
    # The main metric against query latency: one dot per system; the cost plot says why it is absent.
    assert html.count("<figcaption>QA correct against query latency</figcaption>") == 1
    assert "QA correct against cost per probe is not drawn: every system&#39;s LLM cost is $0" in html


def test_the_better_cell_is_short_and_the_best_cell_is_marked_but_never_a_descriptive_one(
    halumem_report: Path,
) -> None:
    tmp_path = halumem_report
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    table = markdown[markdown.index("### Every metric (") :].split("\n\n")[2]
    rows = {line.split(" | ")[0][2:]: line for line in table.splitlines()}
    assert rows["Type accuracy"].startswith("| Type accuracy | extraction | higher | **")
    assert rows["Extracted memories"].startswith("| Extracted memories | extraction | — | ")
    assert "**" not in rows["Extracted memories"], "a count is descriptive: no best value"
    assert "**" not in rows["Update hallucination"], "every value ties: nothing to mark"
    html = (tmp_path / "out" / "leaderboard.html").read_text()
    table = html[html.index('<table class="metrics wide">') :].split("</table>")[0]
    fmr = table[table.index(">FMR</td>") :].split("</tr>")[0]
    assert fmr.count('class="num best"') == 1 and "<td>higher</td>" in fmr
    memories = table[table.index(">Extracted memories</td>") :].split("</tr>")[0]
    assert "best" not in memories and "<td>—</td>" in memories


def test_a_run_with_an_llm_reader_shows_its_calls_even_at_no_cost(tmp_path: Path) -> None:
    """The loopback LLM costs $0: the cost cell still counts its calls, and a reader LLM that never
    answered (every call refused, every probe errored) is not "no LLM" either."""
    from membench.api import run
    from membench.core.config import LLMSpec
    from membench.running.display import NullDisplay
    from membench.testing.configs import tiny_run_config
    from membench.testing.openai_server import FakeOpenAIServer, UnanswerableRequest

    calls = 0

    def refuse(request: dict[str, object]) -> str:
        raise UnanswerableRequest("this model answers nothing")

    # One endpoint (runs with different endpoints would be on different boards), answering the first
    # run and refusing the second.
    with FakeOpenAIServer(lambda request: "Answer: A", models=("fake-reader",)) as server:
        for system in ("full-context", "no-memory"):
            config = tiny_run_config(
                tmp_path,
                "sort",
                system,
                reader_llm=LLMSpec("openai/fake-reader", server.base_url),
                limit=1,
                max_consecutive_errors=0,
            )
            assert run(config, NullDisplay()).manifest.status == "complete"
            calls = calls if system == "no-memory" else server.total_requests
            server.responder = refuse
    assert calls > 0
    assert report(tmp_path / "results", tmp_path / "out", "--data-dir", str(tmp_path / "data")) == 0
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    ranking = markdown[markdown.index("### Ranking") :].split("\n\n")[1]
    assert f"| ${0:.4f} ({calls} calls) |" in ranking
    assert "| no call answered (reader LLM) |" in ranking
    assert "no LLM" not in markdown
    html = (tmp_path / "out" / "leaderboard.html").read_text()
    assert f'<td class="num">$0.0000 ({calls} calls)</td>' in html


def test_every_probe_is_listed_with_its_question_and_gold(tmp_path: Path) -> None:
    results = make_runs(tmp_path, "halumem", ["bm25"], HALUMEM_TINY)
    assert report(results, tmp_path / "out", "--data-dir", str(tmp_path / "data")) == 0
    run_dir = next((results / "runs").iterdir())
    page = (tmp_path / "out" / "runs" / f"{run_dir.name}.html").read_text()
    records = (run_dir / "records.jsonl").read_text().splitlines()
    assert page.count('<section class="probe') == len(records)
    assert "<dt>Gold</dt><dd><dl>" in page and "Questions and gold answers are not shown" not in page
    assert page.count("<dt>Question</dt>") == len(records)


def test_missing_or_different_data_is_said_plainly(tmp_path: Path) -> None:
    results = make_runs(tmp_path, "halumem", ["bm25"], HALUMEM_TINY)
    run_name = next((results / "runs").iterdir()).name

    assert report(results, tmp_path / "absent", "--data-dir", str(tmp_path / "nowhere")) == 0
    page = (tmp_path / "absent" / "runs" / f"{run_name}.html").read_text()
    assert "Questions and gold answers are not shown: no data directory" in page
    assert page.count('<section class="probe') == len(
        (results / "runs" / run_name / "records.jsonl").read_text().splitlines()
    )
    assert "Data: unknown: no data directory" in (tmp_path / "absent" / "leaderboard.md").read_text()

    built = next((tmp_path / "data" / "halumem").glob("*.jsonl"))
    built.write_text(built.read_text().replace("Galway", "Gal way"))
    assert report(results, tmp_path / "changed", "--data-dir", str(tmp_path / "data")) == 0
    page = (tmp_path / "changed" / "runs" / f"{run_name}.html").read_text()
    assert "it is not the data this run was asked" in page
    assert "<dt>Gold</dt><dd><dl>" not in page


def test_dataset_html_and_script_show_as_text(tmp_path: Path) -> None:
    plugins = [KEYWORD, f"{REPORT_PLUGIN}:XssTask"]
    results = make_runs(tmp_path, "xss", ["keyword", "no-memory"], plugins=plugins)
    (tmp_path / "data" / "xss").mkdir(parents=True, exist_ok=True)
    args = ["--data-dir", str(tmp_path / "data"), *(f"--plugin={p}" for p in plugins)]
    assert report(results, tmp_path / "out", *args) == 0
    out = tmp_path / "out"
    pages = [out / "leaderboard.html", *sorted((out / "runs").glob("*.html"))]
    for page in pages:
        text = page.read_text()
        assert "<script" not in text and "<img" not in text, page.name
        assert "onerror=alert(1)&gt;" in text, page.name
        assert not re.search(r"https?://", text), page.name
    run_page = next(p.read_text() for p in pages if "keyword" in p.name)
    assert (
        run_page.count("&lt;script&gt;alert('xss')&lt;/script&gt;") >= 12 * 3
    )  # question, gold, tag
    markdown = (out / "leaderboard.md").read_text()
    assert "\\<script\\>" in markdown
    assert not re.search(r"(?<!\\)[<>]", markdown), "every angle bracket from the data is escaped"


def test_curves_are_plotted_per_system_an_all_zero_one_is_left_out_and_latency_is_tabled(
    tmp_path: Path,
) -> None:
    plugins = [KEYWORD, f"{REPORT_PLUGIN}:ScaledToyTask"]
    results = make_runs(tmp_path, "scaled-toy", ["keyword", "no-memory"], plugins=plugins)
    assert report(results, tmp_path / "out", *(f"--plugin={p}" for p in plugins)) == 0
    html = (tmp_path / "out" / "leaderboard.html").read_text()
    assert html.count('<div class="plot-grid">\n<figure class="curve">') == 1, "the curves sit in one grid"
    plot = html[html.index("<figcaption>Accuracy against size</figcaption>") :].split("</svg>")[0]
    assert plot.count("<polyline") == 2
    assert all(f">{size}</text>" in plot for size in ("100", "200", "300"))
    assert html.count("<polyline") == 2, "the all-zero token curve is not drawn"
    assert "Tokens against size</figcaption>" not in html
    assert 'class="chance"' not in html and 'class="reference"' not in html, "this task declares neither"
    assert '<p class="muted">Tokens against size is not drawn: every value is 0.</p>' in html
    assert html.count("<h3>Latency by size</h3>") == 1, "one latency table per distinct axis"

    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    curves = markdown[markdown.index("### Curves (plotted in leaderboard.html)") :]
    keyword, nothing = "keyword (extractive · exact)", "no-memory (extractive · exact)"
    assert "- Tokens against size is not drawn: every value is 0.\n" in curves
    assert (
        "#### Accuracy against size\n\n| System | 100 | 200 | 300 |\n|---|---|---|---|\n"
        f"| {keyword} | {' | '.join(['100.0% [100.0, 100.0]'] * 3)} |\n"
        f"| {nothing} | {' | '.join(['0.0% [0.0, 0.0]'] * 3)} |\n"
    ) in curves
    # Frozen runs (report_runs.freeze): the answer call takes 1 ms, retrieval 3 ms; every toy episode
    # asks at sizes 100, 200 and 300, so no episode has one size and the ingestion column is empty.
    assert (
        "| size | System | Probes | Answer call p50 / p90 / p99 | Retrieval p50 / p90 / p99 | Episodes | "
        "Ingestion / episode p50 / p90 / p99 |\n|---|---|---|---|---|---|---|\n"
        f"| 100 | {keyword} | 4 | 1 ms / 1 ms / 1 ms | 3 ms / 3 ms / 3 ms | 0 | – |\n"
        f"| 100 | {nothing} | 4 | 1 ms / 1 ms / 1 ms | 3 ms / 3 ms / 3 ms | 0 | – |\n"
    ) in curves
    assert (
        "Left out of the ingestion column: episodes whose probes carry several size values "
        f"({keyword}: 4, {nothing}: 4)."
    ) in curves


def test_a_curve_is_estimated_from_the_probes_it_selects_with_its_chance_level_and_reference(
    tmp_path: Path,
) -> None:
    plugins = [KEYWORD, f"{REPORT_PLUGIN}:SelectedToyTask"]
    results = make_runs(tmp_path, "selected-toy", ["keyword", "no-memory"], plugins=plugins)
    assert report(results, tmp_path / "out", *(f"--plugin={p}" for p in plugins)) == 0
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    keyword, nothing = "keyword (extractive · exact)", "no-memory (extractive · exact)"
    # Even-parity probes are asked after sessions 0 and 2 (sizes 100 and 300); the reference has 100 and
    # 200, so the table has all three columns and each row a "–" where it has no point.
    assert (
        "#### Accuracy against size, even probes\n\n| System | 100 | 200 | 300 |\n|---|---|---|---|\n"
        f"| {keyword} | 100.0% [100.0, 100.0] | – | 100.0% [100.0, 100.0] |\n"
        f"| {nothing} | 0.0% [0.0, 0.0] | – | 0.0% [0.0, 0.0] |\n"
        "| reference: made-up humans | 90.0% | 80.0% | – |\n\nChance: 50.0%\n"
    ) in markdown
    assert (
        "- Accuracy against size (parity=prime) is not drawn: no probe with parity=prime carries the "
        "label size.\n"
    ) in markdown
    assert 'Rows headed "reference:" hold points measured elsewhere' in markdown

    html = (tmp_path / "out" / "leaderboard.html").read_text()
    plot = html[html.index("<figcaption>Accuracy against size, even probes</figcaption>") :].split("</svg>")[
        0
    ]
    # x from 100 to 300 over 80..450 px, y 0-100% over 300..30 px: chance (50%) at y 165, the reference
    # at (100, 90%) and (200, 80%).
    assert '<line x1="80" x2="450" y1="165.0" y2="165.0" class="chance"/>' in plot
    assert '<polyline points="80.0,57.0 265.0,84.0" class="reference"/>' in plot
    assert plot.count('<polyline points="80.0,') == 3, "the reference and both systems start at size 100"
    assert ">made-up humans</text>" in plot
    assert "A dashed line marks chance. Grey dotted lines with hollow markers are points measured" in html


def test_errors_are_counted_and_shown(tmp_path: Path) -> None:
    plugins = [KEYWORD]
    options = {"judge_fails": "ep0:q1,ep2:q0"}
    results = make_runs(
        tmp_path, "toy", ["keyword", "no-memory"], options, plugins=[*plugins, str(TOY) + ":ToyTask"]
    )
    assert report(results, tmp_path / "out", f"--plugin={TOY}:ToyTask") == 0
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    assert markdown.count("| 2/12 |") == 2
    page = next((tmp_path / "out" / "runs").glob("toy__keyword*.html")).read_text()
    assert page.count('<section class="probe error"') == 2
    assert "judge broke on purpose" in page


def test_baseline_choice_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = [KEYWORD, f"{TOY}:ToyTask"]
    results = make_runs(tmp_path, "toy", ["keyword", "no-memory"], {"episodes": "20"}, plugins=plugins)
    plugin_args = [f"--plugin={p}" for p in plugins]
    assert report(results, tmp_path / "out", *plugin_args, "--baseline", "keyword") == 0
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "- Baseline: keyword (extractive · exact) (chosen with --baseline)" in markdown
    # 20 episodes: the exact sign-flip test can separate a perfect system from one that remembers nothing.
    assert re.search(r"\| 1 \| keyword .*\n\| 2 \| no-memory", markdown)
    assert "-100.0 pt \\*" in markdown

    assert report(results, tmp_path / "other", *plugin_args, "--baseline", "mem0") == 0
    assert "--baseline mem0 did not run on this task, so no-memory by default" in (
        (tmp_path / "other" / "leaderboard.md").read_text()
    )

    assert report(tmp_path / "empty", tmp_path / "none") == 2
    assert "is not a directory of membench runs" in capsys.readouterr().err
    assert not (tmp_path / "none").exists(), "a failed report writes nothing"


def test_an_out_path_that_is_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_runs(tmp_path, "toy", ["keyword"], plugins=[KEYWORD, f"{TOY}:ToyTask"])
    target = tmp_path / "taken"
    target.write_text("mine")
    assert report(results, target, f"--plugin={TOY}:ToyTask") == 2
    assert f"--out {target} is a file" in capsys.readouterr().err
    assert target.read_text() == "mine"


def test_a_run_on_a_given_data_file_shows_its_questions_when_the_file_is_in_data_dir(tmp_path: Path) -> None:
    make_runs(tmp_path / "build", "halumem", ["no-memory"], HALUMEM_TINY)
    elsewhere = tmp_path / "elsewhere" / "sample.jsonl"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(next((tmp_path / "build" / "data" / "halumem").glob("*.jsonl")).read_bytes())
    results = make_runs(tmp_path, "halumem", ["bm25"], {"data": str(elsewhere)})
    run_name = next((results / "runs").iterdir()).name

    assert report(results, tmp_path / "absent", "--data-dir", str(tmp_path / "kept")) == 0
    page = (tmp_path / "absent" / "runs" / f"{run_name}.html").read_text()
    assert "the run read -T data=sample.jsonl, and no such file is in " in page
    assert str(tmp_path / "kept" / "halumem") in page and "<dt>Gold</dt><dd><dl>" not in page

    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "sample.jsonl").write_bytes(elsewhere.read_bytes())
    assert report(results, tmp_path / "out", "--data-dir", str(tmp_path / "kept")) == 0
    page = (tmp_path / "out" / "runs" / f"{run_name}.html").read_text()
    assert "<dt>Gold</dt><dd><dl>" in page and "Questions and gold answers are not shown" not in page


def test_the_run_page_link_target_in_markdown_is_percent_encoded(tmp_path: Path) -> None:
    results = make_runs(tmp_path, "halumem", ["bm25"], HALUMEM_TINY)
    crafted = "<img src=x onerror=alert(1)>"
    next((results / "runs").iterdir()).rename(results / "runs" / crafted)
    assert report(results, tmp_path / "out", "--data-dir", str(tmp_path / "data")) == 0
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "(runs/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.html)" in markdown
    assert not re.search(r"(?<!\\)[<>]", markdown), "no raw angle bracket, in link text or target"
    assert (tmp_path / "out" / "runs" / f"{crafted}.html").is_file(), "the link decodes to the page"
