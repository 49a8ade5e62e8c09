"""The leaderboard as data: one board per (task, dataset), built from finished runs, rendered twice.

Everything a reader of the leaderboard sees is decided here, once, so the Markdown and the HTML cannot
disagree. The statistical protocol (research note §4):

- each system's metrics: value, the interval ``stats.policy`` picks for the number of episodes (t on
  episodes below 50, cluster bootstrap from there), n, errors (``stats.estimate``);
- paired deltas against one baseline, per metric: each metric is its own family of k-1 comparisons,
  decided as ``stats.policy`` decides everything: the cluster sign-flip permutation test (exact up to
  16 episodes), Holm-corrected. Exact McNemar p-values are shown beside right/wrong metrics but decide
  nothing: they treat probes as independent, and probes of one episode share a memory state;
- the ranking: systems ordered by the main metric's point estimate; neighbours in that order are
  compared (the same permutation test, Holm across the neighbour pairs), and a neighbour the data cannot
  separate shares its rank: a tier is a maximal chain of unseparated neighbours;
- breakdowns are descriptive (estimates per label value, no tests, so no correction); so are the
  task's curves (a metric per value of a numeric label, over the probes each selects) and the latency
  percentiles by that label, both computed in ``curves``.

Runs are paired only within a board: same task, task options (k among them), dataset fingerprint,
reader and judge (``runs.board_key``). Runs that differ in any of these go on separate boards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Literal

import pandas as pd

from membench.analysis.runs import LoadedRun, board_key, match_run, role_label
from membench.core import numbers as fmt
from membench.core.identity import component_model, sha256_hex
from membench.core.task import MetricSpec
from membench.core.text import level_order
from membench.core.types import Usage
from membench.reporting.curves import (
    CurveSeries,
    LatencyTable,
    Selection,
    curve_series,
    estimates_by,
    latency_table,
    selection,
)
from membench.reporting.data import RunData, load_run_data
from membench.stats import Comparison, MetricEstimate, compare, compare_family, estimate
from membench.stats.policy import ALPHA, CONFIDENCE, decide, few_episodes_note, interval_sentence

#: the mark a delta gets when it is significant after Holm.
SIGNIFICANT = "*"
#: the system reports compare against when ``--baseline`` is not given and it ran: remembering nothing.
DEFAULT_BASELINE = "no-memory"
#: the roles membench itself gives an LLM client (a system's own LLM shows only in its usage).
LLM_ROLES = ("reader", "judge")
#: explains the "Better" column of both leaderboards' metric tables, once per board.
BETTER_LEGEND = (
    "Better: which value is the better one (higher, lower, or the value that is best, such as 50% for "
    "an unbiased share); — marks a descriptive count, which nothing ranks. The best value of each "
    "ranked metric is marked: every system that has it, none when all systems have it."
)


@dataclass(frozen=True)
class Settings:
    """What decides the report's numbers besides the runs (so a reader can reproduce them)."""

    n_boot: int = 2000
    n_perm: int = 10000
    seed: int = 0
    baseline: str | None = None
    data_dir: Path = Path("data")


@dataclass(frozen=True)
class Entry:
    """One system's run on a board, with its rank (tied entries share one)."""

    run: LoadedRun
    estimates: dict[str, MetricEstimate]
    rank: int
    tied: bool
    n_probes: int
    n_errored: int
    usage: dict[str, Usage]
    ingest_s: float | None
    query_s: float | None
    #: the label without the reader and judge every run on the board shares: what plots and the
    #: wide tables show (the board's header names the reader and judge once).
    short_label: str = ""
    #: the roles configured with an LLM client (``LLM_ROLES``) or that made LLM calls.
    llm_roles: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.run.label

    @property
    def run_name(self) -> str:
        return self.run.run_dir.name

    @property
    def cost_usd(self) -> float:
        return sum(u.cost_usd for u in self.usage.values())

    @property
    def llm_calls(self) -> int:
        return sum(u.calls for u in self.usage.values())

    @property
    def cost_text(self) -> str:
        """The Cost cell of both leaderboards. Usage counts only calls that were answered, so a run
        whose LLM never answered (an unreachable endpoint: every probe errored) has no calls, yet it
        used an LLM: it says so, and only a run with no LLM in any role reads "no LLM"."""
        if self.llm_calls or not self.llm_roles:
            return fmt.usd(self.cost_usd, self.llm_calls)
        return f"no call answered ({', '.join(self.llm_roles)} LLM)"

    @property
    def cost_per_probe(self) -> float | None:
        """LLM cost per probe in USD (every role's); None for a run without probes."""
        return self.cost_usd / self.n_probes if self.n_probes else None


@dataclass(frozen=True)
class Delta:
    """One system against the baseline on one metric; ``p_holm`` is corrected across the metric's family."""

    comparison: Comparison
    p_holm: float | None
    significant: bool

    #: how many comparisons share this one's Holm family (the deltas against the baseline).
    family_size: int = 1

    @property
    def mde(self) -> float | None:
        """Minimum detectable difference (80% power at ALPHA, before Holm) for this pair's size and
        clustering; None where the family could not reject at all (``policy.detectable_difference``)."""
        from membench.stats.policy import detectable_difference

        return detectable_difference(self.comparison.se, self.comparison.n_clusters, self.family_size, ALPHA)


@dataclass(frozen=True)
class Neighbours:
    """Two systems next to each other in the ranking, and whether the data separates them.

    The order comes from each run's own estimate, the test from the probes both scored: when they
    differ (one run errored on probes the other answered), the paired difference can go against the
    order. Such a pair is not separated, whatever its p-value: the ranking must not claim an order
    that the paired data contradicts.
    """

    upper: str
    lower: str
    comparison: Comparison
    p_holm: float | None
    significant: bool
    #: the paired difference (lower - upper) does not favour the lower system.
    agrees: bool = True
    #: the upper system has a value of the main metric and the lower one has none (every probe errored,
    #: or none was run): it ranks below, untested, rather than tying with a system that has a value.
    lower_undefined: bool = False

    @property
    def separated(self) -> bool:
        return (self.significant and self.agrees) or self.lower_undefined

    @property
    def verdict(self) -> str:
        """The "Separated" cell both leaderboards show."""
        if self.lower_undefined:
            return "yes: the lower has no value"
        if self.separated:
            return "yes"
        return "no: tied (the paired Δ favours the lower)" if self.significant else "no: tied"


@dataclass(frozen=True)
class Breakdown:
    """Estimates per value of one label, for the metrics that have probes carrying that label."""

    key: str
    metrics: tuple[MetricSpec, ...]
    levels: tuple[str, ...]
    cells: dict[tuple[str, str, str], MetricEstimate]  # (metric, level, entry label)


@dataclass(frozen=True)
class Tradeoff:
    """The main metric (y) against what a system spends for it (x: cost per probe, or query latency),
    one dot per system with its interval; descriptive, like every plot.

    ``note`` says why it is not drawn (no system has the x value) and is empty when it is; ``left_out``
    names the systems drawn without a dot (no x value, or no value of the main metric).
    """

    title: str
    x_label: str
    x_unit: Literal["usd", "s"]
    #: (position in the ranking, which picks the system's colour; short label; x; main estimate)
    points: tuple[tuple[int, str, float, MetricEstimate], ...]
    left_out: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Board:
    task: str
    version: str
    description: str
    data: RunData
    metrics: tuple[MetricSpec, ...]
    main: MetricSpec
    entries: tuple[Entry, ...]
    baseline: str | None
    baseline_note: str
    deltas: dict[str, dict[str, Delta]]  # metric -> entry label -> delta
    neighbours: tuple[Neighbours, ...]
    breakdowns: tuple[Breakdown, ...]
    curves: tuple[CurveSeries, ...]
    #: why a task's curve is not drawn (every value 0, or none at all), one sentence per curve left out.
    curve_notes: tuple[str, ...]
    latency: tuple[LatencyTable, ...]
    settings: Settings
    #: what the board's statistical clusters are: "episodes", or the task's cluster label's values.
    clusters: str = "episodes"
    #: the main metric against cost per probe and against query latency.
    tradeoffs: tuple[Tradeoff, ...] = ()

    @property
    def key(self) -> str:
        """An id for anchors and file names: the task, its dataset, and a hash of the rest of the
        comparable setting (options, reader, judge), since one dataset can have several boards."""
        setting = sha256_hex(board_key(self.entries[0].run))[:6]
        return f"{self.task}-{self.data.fingerprint[:8]}-{setting}"

    @property
    def episodes(self) -> int:
        """Episodes (the clusters) behind the main metric, in the run that has the most."""
        return max((e.estimates[self.main.name].n_clusters for e in self.entries), default=0)

    def series(self, metric: str) -> list[tuple[str, MetricEstimate]]:
        """(short label, estimate) of ``metric`` per system, in rank order: what a plot draws."""
        return [(entry.short_label, entry.estimates[metric]) for entry in self.entries]

    @property
    def short_labels(self) -> dict[str, str]:
        """Each entry's label -> its short label: what plots keyed by label (curves) show."""
        return {e.label: e.short_label for e in self.entries}

    @property
    def others(self) -> tuple[Entry, ...]:
        """The entries compared with the baseline (all but the baseline), in rank order."""
        return tuple(e for e in self.entries if e.label != self.baseline)

    @property
    def plotted(self) -> tuple[MetricSpec, ...]:
        """The metrics drawn one plot each: all but the main one (drawn beside the ranking) and the
        variants (an "(all)" twin would repeat its metric's plot)."""
        return tuple(s for s in self.metrics if s.name != self.main.name and not s.variant_of)

    @property
    def winner_line(self) -> str:
        """Who ranks first, in one sentence under the board's title: one winner, or the systems the
        data cannot separate at the top."""
        if len(self.entries) < 2:
            return "One system: no winner."
        first = [e.short_label for e in self.entries if e.rank == 1]
        if len(first) == 1:
            below = self.neighbours[0] if self.neighbours else None
            how = "the next has no value" if below and below.lower_undefined else "the paired test"
            return f"Winner: {first[0]} (separated from the next: {how})."
        tied = ", ".join(first[:-1]) + f" and {first[-1]}"
        if len(first) == len(self.entries):
            return f"No winner: {tied} are tied at rank 1 (the data cannot separate them)."
        return f"Tied for first: {tied} (the data cannot separate them)."

    def best(self, spec: MetricSpec) -> frozenset[str]:
        """The labels of the systems whose value of ``spec`` is the best one, as shown (values that
        print the same are tied, and every one is marked). None for a descriptive metric, when fewer
        than two systems have a value, or when every value ties: marking every cell says nothing."""
        values = {e.label: v for e in self.entries if (v := e.estimates[spec.name].value) is not None}
        shown = {label: fmt.value(spec, v) for label, v in values.items()}
        if not spec.ranked or len(set(shown.values())) < 2:
            return frozenset()
        top = shown[min(values, key=lambda label: spec.loss(values[label]))]
        return frozenset(label for label, text in shown.items() if text == top)

    @property
    def roles(self) -> tuple[str, str]:
        """The reader and judge every run on the board shares (runs that differ are on other boards)."""
        identity = self.entries[0].run.manifest.identity
        return role_label(identity, "reader"), role_label(identity, "judge")

    @property
    def task_options(self) -> str:
        """The task options every run on the board shares, as ``key=value`` text (unset ones left out)."""
        options = self.entries[0].run.manifest.identity.get("task", {}).get("options", {})
        return ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if v != "") or "defaults"

    @property
    def notes(self) -> list[str]:
        """The few-episodes sentence where the board's families are too small to ever reject."""
        family = max(len(self.entries) - 1, 1)
        noun = None if self.clusters == "episodes" else self.clusters
        note = few_episodes_note(self.episodes, family, ALPHA, self.settings.n_perm, clusters=noun)
        return [note] if note else []


def better_cell(spec: MetricSpec) -> str:
    """The short "Better" cell of both metric tables ("higher", "lower", "50%", "—"; ``BETTER_LEGEND``
    explains it): the long form, ``MetricSpec.better_text``, would take a table's widest column."""
    if spec.better == "target":
        assert spec.target is not None
        return f"{spec.target * spec.scale:g}{spec.unit}"
    return "—" if spec.better == "descriptive" else spec.better


def protocol(settings: Settings) -> list[str]:
    """The statistical protocol in plain sentences, shown at the top of both leaderboards."""
    return [
        f"Intervals: {interval_sentence()}. Episodes are the clusters (probes of one episode share a "
        "memory state), unless a task names a coarser cluster (ConvoMem: the persona, whose haystacks share "
        f"filler and items), which its board says; the bootstrap draws {settings.n_boot} resamples of "
        f"clusters, seed {settings.seed}.",
        "Deltas are paired (same probes, aligned by id) against the board's baseline. p (perm) is the "
        "cluster sign-flip permutation test (exact up to 16 episodes, else "
        f"{settings.n_perm} random patterns).",
        f"Correction: Holm across the k-1 comparisons with the baseline, each metric its own family; "
        f"{SIGNIFICANT} marks p (Holm) <= {ALPHA}. McNemar p (exact, right/wrong metrics only) is shown "
        "uncorrected for reference and decides nothing: it treats probes as independent.",
        f"MDE: the smallest true difference the paired test would detect with 80% power at {ALPHA} "
        "(before Holm), from the episode-clustered standard error of the difference (t on episodes - 1 "
        "degrees of freedom): what the run's size and clustering can see.",
        "Ties: systems are ordered by the main metric's point estimate; each pair of neighbours is compared "
        "with the same permutation test, Holm-corrected across the neighbour pairs. Neighbours the data "
        "cannot separate share a rank (=), listed by point estimate, then by name; so do neighbours whose "
        "paired difference favours the lower one (possible when errors leave the runs different probes). "
        "A system without a value of the main metric ranks below every system that has one.",
        "Breakdowns per category (in leaderboard.html) are descriptive: no tests, so no correction.",
        "Errors are probes whose system, reader or judge failed: counted and shown, never scored as wrong "
        '(metrics a task names "(all)" count them as 0).',
    ]


def collect(runs: Sequence[LoadedRun], settings: Settings) -> list[Board]:
    """One board per comparable setting (task, options, dataset, reader, judge), in task-name order."""
    groups: dict[tuple[str, ...], list[LoadedRun]] = {}
    for run in runs:
        groups.setdefault(board_key(run), []).append(run)
    return [_board(group, settings) for _, group in sorted(groups.items())]


def _board(runs: list[LoadedRun], settings: Settings) -> Board:
    task = runs[0].task
    specs = tuple(task.metrics)
    main = task.main_metric()
    frames = {run.label: run.contributions() for run in runs}
    estimates = {
        label: {e.metric: e for e in estimate(frame, specs, n_boot=settings.n_boot, seed=settings.seed)}
        for label, frame in frames.items()
    }
    ordered = sorted(runs, key=lambda r: _rank_key(estimates[r.label][main.name], main, r.label))
    neighbours = _neighbours(ordered, frames, specs, main, settings, estimates)
    ranks = _ranks(neighbours)
    entries = tuple(_entry(run, estimates[run.label], ranks[i]) for i, run in enumerate(ordered))
    baseline, note = _baseline(ordered, settings.baseline)
    ranked_frames = {run.label: frames[run.label] for run in ordered}
    # A key that is both a breakdown and a curve's axis (with no ``where``) is estimated once.
    by_selection = estimates_by(
        ranked_frames,
        specs,
        [*((key, ()) for key in task.breakdowns), *(selection(curve) for curve in task.curves)],
        n_boot=settings.n_boot,
        seed=settings.seed,
    )
    curves, curve_notes = curve_series(task.curves, specs, by_selection)
    axes = dict.fromkeys(
        task.latency_axes if task.latency_axes is not None else (curve.axis for curve in task.curves)
    )
    return Board(
        task=task.name,
        version=task.version,
        description=task.description,
        data=load_run_data(runs[0], settings.data_dir),
        metrics=specs,
        main=main,
        entries=entries,
        baseline=baseline,
        baseline_note=note,
        deltas=_deltas(ranked_frames, specs, baseline, settings) if baseline else {},
        neighbours=tuple(neighbours),
        breakdowns=tuple(_breakdowns(by_selection, specs, main, task.breakdowns)),
        curves=tuple(curves),
        curve_notes=tuple(curve_notes),
        latency=tuple(table for axis in axes if (table := latency_table(ordered, axis)) is not None),
        settings=settings,
        clusters=task.cluster_noun(),
        tradeoffs=_tradeoffs(entries, main),
    )


def _rank_key(est: MetricEstimate, main: MetricSpec, label: str) -> tuple[int, float, str]:
    """Best first; an undefined main metric ranks last; equal values in label order."""
    if est.value is None:
        return (1, 0.0, label)
    return (0, main.loss(est.value), label)


def _neighbours(
    ordered: list[LoadedRun],
    frames: dict[str, pd.DataFrame],
    specs: tuple[MetricSpec, ...],
    main: MetricSpec,
    settings: Settings,
    estimates: dict[str, dict[str, MetricEstimate]],
) -> list[Neighbours]:
    pairs = list(pairwise(ordered))
    comparisons = [
        compare(
            frames[upper.label],
            frames[lower.label],
            specs,
            main.name,
            name_a=upper.label,
            name_b=lower.label,
            n_boot=settings.n_boot,
            n_perm=settings.n_perm,
            seed=settings.seed,
            confidence=CONFIDENCE,
        )
        for upper, lower in pairs
    ]
    decisions = decide([c.p_permutation for c in comparisons], ALPHA)
    return [
        Neighbours(
            upper.label,
            lower.label,
            c,
            d.p_adjusted,
            d.reject,
            _agrees(main, c.difference),
            estimates[upper.label][main.name].value is not None
            and estimates[lower.label][main.name].value is None,
        )
        for (upper, lower), c, d in zip(pairs, comparisons, decisions, strict=True)
    ]


def _agrees(main: MetricSpec, difference: float | None) -> bool:
    """Whether lower - upper on the paired probes leaves the upper system at least as good."""
    if difference is None:
        return True
    return difference <= 0 if main.better == "higher" else difference >= 0


def _ranks(neighbours: list[Neighbours]) -> list[tuple[int, bool]]:
    """(rank, tied) per position: a new rank starts only below a separated neighbour pair."""
    tiers = [0]
    for pair in neighbours:
        tiers.append(tiers[-1] + 1 if pair.separated else tiers[-1])
    first_position = {tier: tiers.index(tier) + 1 for tier in set(tiers)}
    return [(first_position[t], tiers.count(t) > 1) for t in tiers]


def _entry(run: LoadedRun, estimates: dict[str, MetricEstimate], rank: tuple[int, bool]) -> Entry:
    records = run.records
    identity = run.manifest.identity
    usage = dict(sorted(run.manifest.usage.items()))
    configured = {role for role in LLM_ROLES if component_model(identity.get(role, {}))}
    query = [
        sum(v for k, v in r.prediction.latency_s.items() if k in ("retrieve", "session_memories"))
        for r in records
        if r.prediction is not None and {"retrieve", "session_memories"} & set(r.prediction.latency_s)
    ]
    ingest = [i.latency_s for i in run.ingests if i.ok]
    return Entry(
        run=run,
        estimates=estimates,
        rank=rank[0],
        tied=rank[1],
        n_probes=len(records),
        n_errored=sum(1 for r in records if r.status == "error"),
        usage=usage,
        ingest_s=sum(ingest) / len(ingest) if ingest else None,
        query_s=sum(query) / len(query) if query else None,
        short_label=_short_label(run),
        llm_roles=tuple(sorted(configured | {role for role, u in usage.items() if u.calls})),
    )


def _short_label(run: LoadedRun) -> str:
    """``run.label`` without its last two mode parts, the reader and the judge (``runs.run_mode``),
    which every run on a board shares: ``mem0 (offline)``, ``bm25``."""
    identity = run.manifest.identity
    shared = f"{role_label(identity, 'reader')} · {role_label(identity, 'judge')}"
    if run.mode == shared:
        return run.system
    if run.mode.endswith(f" · {shared}"):
        return f"{run.system} ({run.mode.removesuffix(f' · {shared}')})"
    return run.label


def _tradeoffs(entries: Sequence[Entry], main: MetricSpec) -> tuple[Tradeoff, ...]:
    """The main metric against cost per probe and against mean query latency. A system without the x
    value (no retrieval timed) or without a main value gets no dot and is named; a plot no system has
    a dot on is not drawn, and one where every cost is 0 (offline runs, local LLMs) is not either: a
    column of dots at $0 says nothing the ranking table does not."""
    axes: list[tuple[str, str, Literal["usd", "s"], dict[str, float | None]]] = [
        (
            f"{main.display} against cost per probe",
            "LLM cost per probe (USD, every role)",
            "usd",
            {e.label: e.cost_per_probe for e in entries},
        ),
        (
            f"{main.display} against query latency",
            "mean retrieval latency per probe",
            "s",
            {e.label: e.query_s for e in entries},
        ),
    ]
    out = []
    for title, x_label, unit, xs in axes:
        points = tuple(
            (i, e.short_label, x, e.estimates[main.name])
            for i, e in enumerate(entries)
            if (x := xs[e.label]) is not None and e.estimates[main.name].value is not None
        )
        drawn = {point[1] for point in points}
        left_out = tuple(e.short_label for e in entries if e.short_label not in drawn)
        note = ""
        if not points:
            note = f"{title} is not drawn: no system has both a {x_label} and a value of {main.display}."
        elif unit == "usd" and all(point[2] == 0 for point in points):
            note = f"{title} is not drawn: every system's LLM cost is $0 (no LLM, or a local one)."
        out.append(Tradeoff(title, x_label, unit, points, left_out, note))
    return tuple(out)


def _baseline(ordered: list[LoadedRun], wanted: str | None) -> tuple[str | None, str]:
    """The baseline's label and a sentence saying how it was chosen."""
    if len(ordered) < 2:
        return None, "one system only: nothing to compare"
    if wanted is not None:
        chosen = match_run(wanted, [(r.label, r) for r in ordered])
        if chosen is not None:
            return chosen, "chosen with --baseline"
    fallback = [r for r in ordered if r.system == DEFAULT_BASELINE]
    why = f"--baseline {wanted} did not run on this task, so " if wanted else ""
    if fallback:
        return fallback[0].label, f"{why}{DEFAULT_BASELINE} by default: the system that remembers nothing"
    return ordered[0].label, f"{why}the top-ranked system by default (deltas show how far each is behind)"


def _deltas(
    frames: dict[str, pd.DataFrame], specs: tuple[MetricSpec, ...], baseline: str, settings: Settings
) -> dict[str, dict[str, Delta]]:
    out: dict[str, dict[str, Delta]] = {}
    for spec in specs:
        family = compare_family(
            frames,
            specs,
            spec.name,
            baseline=baseline,
            n_boot=settings.n_boot,
            alpha=ALPHA,
            n_perm=settings.n_perm,
            seed=settings.seed,
            confidence=CONFIDENCE,
        )
        out[spec.name] = {
            m.comparison.name_b: Delta(m.comparison, m.p_adjusted, m.reject, len(family.members))
            for m in family.members
        }
    return out


def _breakdowns(
    by_selection: Mapping[Selection, dict[str, list[MetricEstimate]]],
    specs: tuple[MetricSpec, ...],
    main: MetricSpec,
    keys: Sequence[str],
) -> list[Breakdown]:
    """Per label key, the metrics that have labelled probes, the main metric first when it is one."""
    out = []
    for key in keys:
        cells = {
            (est.metric, str(est.level), label): est
            for label, estimates in by_selection[(key, ())].items()
            for est in estimates
        }
        if not cells:
            continue
        present = {metric for metric, _, _ in cells}
        levels = tuple(sorted({level for _, level, _ in cells}, key=level_order))
        shown = sorted((s for s in specs if s.name in present), key=lambda s: s.name != main.name)
        out.append(Breakdown(key, tuple(shown), levels, cells))
    return out
