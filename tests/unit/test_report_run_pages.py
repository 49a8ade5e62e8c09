"""Run pages: probes filed by verdict with anchors and counts, gold as fields, colours, and size.

The field and verdict helpers are tested on small inputs with their exact markup; the pages on real
runs (HaluMem and ConvoMem on tiny built data, the toy task with judge failures), with what is
expected read from records.jsonl and the dataset directly rather than from the page's own code.
In headless Chromium (when installed), the page at ``#wrong`` shows the wrong answers alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.runs import find_run_dirs, latest_complete, load_run
from membench.registry import Registry, import_object
from membench.reporting.collect import Settings, collect
from membench.reporting.data import load_run_data
from membench.reporting.pages import render_run_page
from membench.reporting.run_page_fields import CLIP_CHARS, Fields, SharedValues, attach_details
from membench.reporting.run_page_verdicts import group_by_verdict
from membench.testing.configs import TINY_TASK_OPTIONS

FIXTURES = Path(__file__).parents[1] / "fixtures"
RUNS = FIXTURES / "report" / "report_runs.py"
make_runs = import_object(f"{RUNS}:make_runs")
TOY = import_object(f"{RUNS}:TOY")
TOY_PLUGINS = [f"{TOY}:KeywordSystem", f"{TOY}:ToyTask"]
CHROMIUM = Path("/usr/bin/chromium")
#: every run page's budget: bytes per probe on average, and bytes outside the probes (facts, metrics,
#: styles, legend), so a page of N probes stays under FIXED + N * PER_PROBE.
PER_PROBE = 1500
FIXED = 20_000


# ---------------------------------------------------------------- fields and verdicts, exact markup


def test_gold_is_a_definition_list_with_lists_tables_and_one_level_of_nesting() -> None:
    gold = {
        "answer": "Enchiladas.",
        "items": ["H5", "C1"],
        "keys": {"required": ["enchiladas"], "reject": [], "unknown": False},
        "evidence": [{"text": "I love enchiladas.", "deep": {"a": [1, 2], "b": None}}],
        "importance": 0.25,
        "empty": [],
    }
    assert Fields().mapping(gold) == (
        "<dl><dt>answer<dd>Enchiladas."
        '<dt>items<dd><ul class="ls"><li>H5<li>C1</ul>'
        "<dt>keys<dd><dl><dt>required<dd>enchiladas<dt>reject<dd>—<dt>unknown<dd>no</dl>"
        "<dt>evidence<dd><table><tr><th>text<th>deep<tr><td>I love enchiladas.<td>a: 1, 2</table>"
        "<dt>importance<dd>0.25<dt>empty<dd>—</dl>"
    )


def test_rows_are_tabled_per_key_set_with_constant_columns_said_once() -> None:
    rows = [
        {"element": "point", "point_id": "ep:s0:m1", "g": 2},
        {"element": "point", "point_id": "ep:s0:m2", "g": 0},
        {"element": "memory", "position": 0, "a": 1},
    ]
    assert Fields("ep").details(rows) == (
        "<table><caption>element: point</caption><tr><th>point_id<th>g"
        "<tr><td>…:s0:m1<td>2<tr><td>…:s0:m2<td>0</table>"
        "<table><tr><th>element<th>position<th>a<tr><td>memory<td>0<td>1</table>"
    )
    many = [{"n": i} for i in range(5)]
    assert Fields().details(many).endswith('<p class="muted">2 more row(s) in records.jsonl</p>')


def test_long_texts_and_lists_show_their_start_and_open_the_rest_in_place() -> None:
    text = "x" * CLIP_CHARS + "tail"
    assert Fields().value(text, 1) == (
        f'<details class="more"><summary>{"x" * CLIP_CHARS}…</summary>tail</details>'
    )
    shown = Fields().value([f"v{i}" for i in range(14)], 1)
    assert shown.startswith('<ul class="ls"><li>v0<li>v1')
    assert shown.endswith(
        '<details class="more"><summary>2 more</summary><ul class="ls"><li>v12<li>v13</ul></details>'
    )


def test_a_detail_naming_a_gold_row_is_shown_beside_it_and_only_what_it_adds() -> None:
    gold = {
        "memory_points": [
            {"point_id": "p1", "memory_type": "Persona", "content": "lives in Seattle"},
            {"point_id": "p2", "memory_type": "Persona", "content": "works at a school"},
        ],
        "point": {"point_id": "p3", "memory_type": "Event"},
    }
    details = [
        {"element": "point", "point_id": "p1", "memory_type": "Persona", "g": 2},
        {"point_id": "p3", "memory_type": "Event"},
        {"element": "memory", "position": 0, "reason": "states p1"},
        # "Persona" names two rows, so it names none.
        {"memory_type": "Persona", "g": 1},
        # a second verdict on p1 would overwrite the first one's: it stays in the list.
        {"point_id": "p1", "g": 0},
    ]
    shaped, rest = attach_details(gold, details)
    assert shaped["memory_points"][0] == {
        "point_id": "p1",
        "memory_type": "Persona",
        "content": "lives in Seattle",
        "judge element": "point",
        "judge g": 2,
    }
    assert shaped["memory_points"][1] == gold["memory_points"][1]
    assert shaped["point"] == {"point_id": "p3", "memory_type": "Event"}
    assert rest == [details[2], details[3], details[4]]
    assert gold["memory_points"][0] == {
        "point_id": "p1",
        "memory_type": "Persona",
        "content": "lives in Seattle",
    }
    table = Fields().value(shaped["memory_points"], 1)
    assert "<th>point_id<th>content<th>judge element<th>judge g" in table
    assert "<tr><td>p1<td>lives in Seattle<td>point<td>2<tr><td>p2<td>works at a school<td>—<td>—" in table


def test_a_long_value_in_several_probes_is_written_once_and_linked() -> None:
    vocabulary = [f"Place number {i}" for i in range(30)]
    shared = SharedValues(
        [{"vocabulary": vocabulary, "items": ["a"]}, {"vocabulary": vocabulary}, {"x": "y"}]
    )
    [value] = shared.values
    assert (value.anchor, value.key, value.uses) == ("shared-1", "vocabulary", 2)
    assert shared.anchor("vocabulary", list(vocabulary)) == "shared-1"
    assert shared.anchor("items", ["a"]) is None
    assert Fields(shared=shared).mapping({"vocabulary": vocabulary}) == (
        '<dl><dt>vocabulary<dd>30 items, the same in other probes: <a href="#shared-1">shared-1</a></dl>'
    )


def test_dataset_text_is_escaped_everywhere() -> None:
    payload = "<script>alert(1)</script>"
    shown = Fields().mapping({payload: payload, "rows": [{payload: payload}]})
    assert "<script>" not in shown and shown.count(escape(payload, quote=False)) == 4


def test_verdicts_are_filed_worst_first_with_their_colour_and_an_anchor_of_their_own() -> None:
    items = ["correct", "wrong", "errored", "hallucination", "omission", "wrong", "Odd Label!", "probes"]
    groups = group_by_verdict(items, lambda v: v, lambda v: "qa")
    assert [(g.verdict, g.anchor, g.tone.css, len(g.items)) for g in groups] == [
        ("wrong", "wrong", "t-bad", 2),
        ("hallucination", "hallucination", "t-hal", 1),
        ("errored", "errored", "t-err", 1),
        ("omission", "omission", "t-omi", 1),
        ("Odd Label!", "odd-label", "t-new", 1),
        ("probes", "v-probes", "t-new", 1),
        ("correct", "correct", "t-ok", 1),
    ]
    assert groups[0].kinds == [("qa", 2)]
    clash = group_by_verdict(["a b", "a-b"], lambda v: v, lambda v: "qa")
    assert [g.anchor for g in clash] == ["a-b", "a-b-2"]


# ---------------------------------------------------------------- pages of real runs


def render_pages(results: Path, data_dir: Path, plugins: tuple[str, ...] = ()) -> dict[str, str]:
    """Every run page under ``results``, by run directory name (the leaderboard is not rendered)."""
    registry = Registry(list(plugins))
    runs = latest_complete([load_run(path, registry) for path in find_run_dirs(results)])
    boards = collect(runs, Settings(n_boot=50, n_perm=50, data_dir=data_dir))
    return {entry.run_name: render_run_page(board, entry) for board in boards for entry in board.entries}


def sections(page: str) -> dict[str, str]:
    """Each verdict section's markup, by its anchor (a section runs to the next one, or to the end
    of the probes)."""
    end = page.find('<h2 id="shared">')
    body = page[: end if end >= 0 else page.index("</body>")]
    parts = re.split(r'<section class="verdict [^"]+" id="([^"]+)">', body)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def probe_ids(section: str) -> list[str]:
    return re.findall(r'<section class="probe (?:scored|error)" id="([^"]+)">', section)


def expected_verdicts(run_dir: Path) -> Counter[str]:
    """Verdicts straight from records.jsonl, by the page's rule: errored, the label, or none."""
    counts: Counter[str] = Counter()
    for line in (run_dir / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        score = record["score"]
        failed = record["error"] is not None or score is None or score["status"] == "error"
        counts["errored" if failed else score["label"] or "scored per element"] += 1
    return counts


def first_record(run_dir: Path, label: str) -> dict[str, Any]:
    for line in (run_dir / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["score"] and record["score"]["label"] == label:
            return record
    raise AssertionError(f"no {label} record in {run_dir}")


def probe_html(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}">')
    return page[start : page.index("\n</section>", start)]


def budget(page: str, n_probes: int) -> tuple[float, int]:
    """Bytes per probe section on average, and bytes outside the probe sections."""
    probes = re.findall(r'<section class="probe .*?\n</section>', page, re.S)
    assert len(probes) == n_probes
    inside = sum(len(p.encode()) for p in probes)
    return inside / n_probes, len(page.encode()) - inside


@pytest.fixture(scope="module")
def halumem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("halumem")
    results = make_runs(root, "halumem", ["bm25"], dict(TINY_TASK_OPTIONS["halumem"]))
    [(name, page)] = render_pages(results, root / "data").items()
    return results / "runs" / name, page


@pytest.fixture(scope="module")
def convomem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("convomem")
    options = {"personas": "2", "filler": "30", "sizes": "1,3", "per_cell": "1"}
    results = make_runs(root, "convomem", ["no-memory"], options)
    [(name, page)] = render_pages(results, root / "data").items()
    return results / "runs" / name, page


def test_halumem_probes_are_filed_by_verdict_with_a_counted_table_of_contents(
    halumem: tuple[Path, str],
) -> None:
    run_dir, page = halumem
    expected = expected_verdicts(run_dir)
    order = ["hallucination", "other", "omission", "correct", "scored per element"]
    assert sorted(expected) == sorted(order), "the tiny HaluMem run has these verdicts"
    found = sections(page)
    assert list(found) == ["hallucination", "other", "omission", "correct", "scored-per-element"]
    for verdict, anchor in zip(order, found, strict=True):
        assert f'href="#{anchor}">{verdict} ({expected[verdict]})</a>' in page
        assert found[anchor].startswith(f"\n<h2>{verdict} ({expected[verdict]})")
        assert len(probe_ids(found[anchor])) == expected[verdict]
    assert f'<a class="v t-non" href="#probes">all ({sum(expected.values())})</a>' in page
    assert '<section class="verdict t-hal" id="hallucination">' in page
    assert '<section class="verdict t-ok" id="correct">' in page
    assert '<span class="v t-hal">orange</span> states something false (hallucination)' in page


def test_a_hallucinated_answer_is_in_its_section_and_nowhere_else(halumem: tuple[Path, str]) -> None:
    run_dir, page = halumem
    record = first_record(run_dir, "hallucination")
    anchor = f"p-{record['probe_id']}"
    found = sections(page)
    assert anchor in probe_ids(found["hallucination"])
    assert all(anchor not in probe_ids(found[other]) for other in found if other != "hallucination")
    assert page.count(f'id="{anchor}"') == 1


def test_halumem_gold_reads_as_fields_with_the_judge_beside_each_point(halumem: tuple[Path, str]) -> None:
    run_dir, page = halumem
    data = load_run_data(load_run(run_dir, Registry([])), run_dir.parents[2] / "data").dataset
    assert data is not None
    probes = {p.probe_id: p for p in data.probes}

    qa = first_record(run_dir, "hallucination")
    gold = probes[qa["probe_id"]].gold
    shown = probe_html(page, f"p-{qa['probe_id']}")
    assert f"<dt>Gold</dt><dd><dl><dt>answer<dd>{escape(gold['answer'])}<dt>evidence<dd><table>" in shown
    assert f"<td>{escape(gold['evidence'][0]['memory_content'])}<td>" in shown
    required = ", ".join(gold["keys"]["required"])
    assert f"<dt>keys<dd><dl><dt>required<dd>{escape(required)}<dt>reject<dd>" in shown
    assert "<pre>" not in shown and "{" not in shown, "no JSON dump"

    extraction = next(p for p in data.probes if p.kind == "extraction")
    shown = probe_html(page, f"p-{extraction.probe_id}")
    point = extraction.gold["memory_points"][0]
    short_id = "…" + point["point_id"].removeprefix(extraction.episode_id)
    assert f"<tr><td>{short_id}<td>{point['index']}<td>{escape(point['content'])}<td>" in shown
    assert "<th>judge reason" in shown, "each point's verdict is a column of the gold table"

    update = next(p for p in data.probes if p.kind == "update")
    shown = probe_html(page, f"p-{update.probe_id}")
    assert f"<dt>content<dd>{escape(update.gold['point']['content'])}<dt>" in shown
    assert "detail(s)</summary>" not in shown, "the update's one detail names its point, so it is in the gold"


def test_a_page_loads_nothing_and_stays_small(halumem: tuple[Path, str], convomem: tuple[Path, str]) -> None:
    for run_dir, page in (halumem, convomem):
        assert "<script" not in page and "<img" not in page and "<iframe" not in page
        assert not re.search(r"(?:https?:)?//[a-z0-9]", page), "no external URL"
        assert re.findall(r'href="([^"]*)"', page) and all(
            href.startswith("#") or href.startswith("../leaderboard.html#")
            for href in re.findall(r'href="([^"]*)"', page)
        )
        n_probes = len((run_dir / "records.jsonl").read_text().splitlines())
        per_probe, fixed = budget(page, n_probes)
        assert per_probe < PER_PROBE and fixed < FIXED, (run_dir.name, per_probe, fixed)


def test_convomem_wrong_answers_have_their_own_section(convomem: tuple[Path, str]) -> None:
    run_dir, page = convomem
    expected = expected_verdicts(run_dir)
    assert set(expected) == {"wrong", "right"}
    found = sections(page)
    assert list(found) == ["wrong", "right"]
    assert f'href="#wrong">wrong ({expected["wrong"]})</a>' in page
    assert f'href="#right">right ({expected["right"]})</a>' in page
    wrong = first_record(run_dir, "wrong")
    anchor = f"p-{wrong['probe_id']}"
    assert anchor in probe_ids(found["wrong"]) and anchor not in probe_ids(found["right"])
    shown = probe_html(page, anchor)
    assert "<dt>Verdict</dt><dd><b>wrong</b>" in shown
    assert "<dt>message_evidences<dd><table>" in shown and "<th>speaker<th>text" in shown


def test_errored_probes_are_a_purple_section_with_their_cause(tmp_path: Path) -> None:
    options = {"judge_fails": "ep0:q1,ep2:q0"}
    results = make_runs(tmp_path, "toy", ["keyword"], options, plugins=TOY_PLUGINS)
    [page] = render_pages(results, tmp_path / "data", tuple(TOY_PLUGINS)).values()
    found = sections(page)
    assert '<section class="verdict t-err" id="errored">' in page
    assert probe_ids(found["errored"]) == ["p-ep0:q1", "p-ep2:q0"]
    assert found["errored"].count("judge broke on purpose") == 2
    assert 'href="#errored">errored (2)</a>' in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_page_at_a_verdict_anchor_shows_that_verdict_alone(
    convomem: tuple[Path, str], tmp_path: Path
) -> None:
    """The page's CSS does the filtering; a copy of it, with a script the real page may not run
    (its policy forbids scripts), reports what Chromium shows at ``#wrong``."""
    page = convomem[1]
    probe = (
        "<script>addEventListener('load', () => { const shown = s => s.getClientRects().length > 0;"
        "document.body.dataset.shown = [...document.querySelectorAll('section.verdict')].filter(shown)"
        ".map(s => s.id).join(' ');"
        "const top = [...document.querySelectorAll('section.probe')]"
        ".find(p => p.getBoundingClientRect().bottom > 60);"
        "document.body.dataset.top = top.id; document.body.dataset.head = "
        "shown(document.querySelector('.run-head'));});</script>"
    )
    copy = tmp_path / "page.html"
    copy.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page) + probe)
    profile = tmp_path / "profile"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", "--dump-dom"]
    dom = subprocess.run(
        [str(CHROMIUM), *flags, "--window-size=1400,1000", copy.as_uri() + "#wrong"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    shutil.rmtree(profile, ignore_errors=True)
    assert 'data-shown="wrong"' in dom and 'data-head="false"' in dom
    first_wrong = probe_ids(sections(page)["wrong"])[0]
    assert f'data-top="{first_wrong}"' in dom


@pytest.mark.slow
def test_a_page_of_the_default_halumem_build_is_under_the_budget(tmp_path: Path) -> None:
    results = make_runs(tmp_path, "halumem", ["bm25"])
    [(name, page)] = render_pages(results, tmp_path / "data").items()
    n_probes = len((results / "runs" / name / "records.jsonl").read_text().splitlines())
    assert len(page.encode()) / n_probes < PER_PROBE
