"""``membench compare``: paired differences between finished runs, with a declared correction family.

Runs are compared probe by probe (``membench.stats.compare_family``), one family per metric: every run
against the baseline when one is named, else all pairs. Decisions follow ``membench.stats.policy``: the
cluster sign-flip permutation test, Holm-corrected across the family, decides the significance mark;
exact McNemar's p is shown beside right/wrong metrics for reference and decides nothing (it treats the
probes of one episode as independent). With too few episodes for any test to reject, the output says so.

Only comparable runs are paired: same task and dataset (fingerprints), and the same task options
(k among them), reader and judge. Runs that differ are refused with the fields named; the reader,
judge or task options may be let differ on purpose with ``allow_different`` (a reader ablation), and
the output then says what differs. Probes found in one run only, or errored in either, leave the
comparison and are counted (and listed by id), so nothing is dropped in silence. Of several runs of
one system and mode (a glob matching a ``--limit`` run too), one is compared and the others are named.

MDE: the smallest true difference the comparison would detect with 80% power at two-sided level alpha,
(t_{1-α/2} + t_{0.8}) · SE, with SE the episode-clustered (sandwich) standard error of the difference
and t on G - 1 degrees of freedom for G episodes; it reflects the run's size and its clustering. It is
not given (None, "—") with a single episode or when the difference does not vary at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from membench.analysis.runs import (
    WAIVABLE_FIELDS,
    LoadedRun,
    board_key,
    comparability_differences,
    find_run_dirs,
    latest_complete,
    load_run,
    match_run,
)
from membench.core.errors import ConfigError
from membench.core.task import MetricSpec
from membench.registry import Registry
from membench.stats.policy import ALPHA, CONFIDENCE, POWER, few_episodes_note

if TYPE_CHECKING:
    import pandas as pd

    from membench.stats import FamilyComparison, FamilyMember, MetricEstimate

#: a probe, named the way the report and the JSON list it: "episode_id/probe_id".
ProbeName = str


@dataclass(frozen=True)
class PairResult:
    """One comparison of a family: B - A, both values on the paired probes, and what was left out."""

    member: FamilyMember
    estimate_a: MetricEstimate
    estimate_b: MetricEstimate
    mde: float | None
    #: which run the paired values favour (``MetricSpec.preferred``); None when equal, undefined, or the
    #: metric is descriptive or has a target (``_favours``).
    favours: str | None
    only_a: tuple[ProbeName, ...]
    only_b: tuple[ProbeName, ...]
    errored_a: tuple[ProbeName, ...]
    errored_b: tuple[ProbeName, ...]

    @property
    def mark(self) -> str:
        """ "*" when the permutation test rejects after Holm over the family, else ""."""
        return "*" if self.member.reject else ""


@dataclass(frozen=True)
class MetricFamily:
    spec: MetricSpec
    family: FamilyComparison
    pairs: tuple[PairResult, ...]
    #: what the clusters are when not episodes (the task's ``cluster_noun``), else None.
    clusters: str | None = None

    @property
    def description(self) -> str:
        """Which correction was applied to what: the sentence every output format prints."""
        size = len([m for m in self.family.members if m.p_adjusted is not None])
        scope = (
            f"every run vs baseline {self.family.baseline}"
            if self.family.baseline is not None
            else "all pairs of runs"
        )
        return (
            f"Holm over the family of {size} comparison(s) of {self.spec.display} ({scope}) on the "
            f"cluster permutation p; * = rejected at alpha {self.family.alpha}"
        )

    @property
    def note(self) -> str | None:
        """The few-episodes sentence, when no comparison of this family can be significant."""
        tested = [m.comparison for m in self.family.members if m.comparison.p_permutation is not None]
        if not tested:
            return None
        n_clusters = max(c.n_clusters for c in tested)
        return few_episodes_note(n_clusters, len(tested), self.family.alpha, clusters=self.clusters)


@dataclass(frozen=True)
class CompareResult:
    task: str
    fingerprint: str
    runs: tuple[LoadedRun, ...]
    names: tuple[str, ...]
    baseline: str | None
    families: tuple[MetricFamily, ...]
    n_boot: int
    seed: int
    confidence: float
    #: fields the runs were allowed to differ in, each "field: values" (empty when fully comparable).
    differing: tuple[str, ...] = ()
    #: runs given but not compared (``distinct_runs``), each with the run compared in its place.
    set_aside: tuple[tuple[Path, Path], ...] = ()


# ---------------------------------------------------------------- which runs


def select_runs(
    run_dirs: Sequence[Path],
    *,
    task: str | None = None,
    systems: Sequence[str] = (),
    results_dir: Path = Path("results"),
    registry: Registry | None = None,
    allow_different: tuple[str, ...] = (),
) -> list[LoadedRun]:
    """The runs named by directory, or the latest complete run per (system, mode) of ``task``.

    Named directories are returned as given: ``compare_runs`` keeps one run per system and mode of
    them (``distinct_runs``) and says which it set aside; they are checked here as it will pair them.
    """
    if run_dirs and (task or systems):
        raise ConfigError("give run directories, or --task with --systems, not both")
    if run_dirs:
        runs = [load_run(Path(d), registry) for d in run_dirs]
    elif task and systems:
        loaded = [load_run(d, registry) for d in find_run_dirs(results_dir)]
        runs = _on_shared_data(latest_complete([r for r in loaded if r.task_name == task]), systems)
    else:
        raise ConfigError("name the runs to compare: RUN_DIR..., or --task T --systems a,b")
    pairable_runs(runs, allow_different)
    return runs


def pairable_runs(
    runs: Sequence[LoadedRun], allow_different: tuple[str, ...] = ()
) -> tuple[list[LoadedRun], list[tuple[LoadedRun, LoadedRun]], list[str]]:
    """The runs ``compare_runs`` pairs (``distinct_runs``), those set aside, and the differences
    ``allow_different`` waived; fewer than two runs, or runs that cannot be paired, are refused."""
    kept, set_aside = distinct_runs(runs)
    if len(kept) < 2:
        same = "".join(f"; {aside.run_dir} is another run of {run.label}" for aside, run in set_aside)
        raise ConfigError(f"a comparison needs at least two runs of different systems or modes{same}")
    return kept, set_aside, check_comparable(kept, allow_different)


def distinct_runs(runs: Sequence[LoadedRun]) -> tuple[list[LoadedRun], list[tuple[LoadedRun, LoadedRun]]]:
    """One run per system and mode in each comparable setting, in the order given; and each run set
    aside, with the run compared in its place.

    A glob such as ``results/runs/halumem__bm25__*`` matches every run of a system: a ``--limit`` run,
    a re-run with another seed, the ``.replaced-`` copy ``--fresh`` archived. Paired, they would compare
    the system with itself and leave most probes out. The run kept is the one ``--task`` would pick
    (``latest_complete``: complete, the most probes, then the newest), else the newest; a run given
    twice is compared once. Runs of one system in different settings (another k, with
    ``--allow-different task-options``) are all kept: that is an ablation.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, run in enumerate(runs):
        groups.setdefault((*board_key(run), run.system, run.mode), []).append(i)
    chosen: dict[int, int] = {}
    for members in groups.values():
        group = [runs[i] for i in members]
        best = latest_complete(group)
        pick = (
            members[next(j for j, run in enumerate(group) if run is best[0])]
            if best
            else max(members, key=lambda i: runs[i].manifest.updated_at)
        )
        chosen.update({i: pick for i in members})
    kept = [run for i, run in enumerate(runs) if chosen[i] == i]
    set_aside = [(run, runs[chosen[i]]) for i, run in enumerate(runs) if chosen[i] != i]
    return kept, set_aside


def _on_shared_data(candidates: list[LoadedRun], systems: Sequence[str]) -> list[LoadedRun]:
    """The runs of ``systems`` in the comparable setting (data, options, reader, judge) all of them ran
    in: the most recently used, if several."""
    for system in systems:
        if not any(r.system == system for r in candidates):
            raise ConfigError(f"no complete run of system '{system}' on this task")
    by_setting: dict[tuple[str, ...], list[LoadedRun]] = {}
    for run in candidates:
        if run.system in systems:
            by_setting.setdefault(board_key(run), []).append(run)
    shared = [group for group in by_setting.values() if {r.system for r in group} >= set(systems)]
    if not shared:
        raise ConfigError(
            f"systems {', '.join(systems)} never ran with the same data, task options, reader and judge; "
            "name the run directories to compare (and --allow-different for what may differ)"
        )
    newest = max(shared, key=lambda group: max(r.manifest.updated_at for r in group))
    return [r for system in systems for r in newest if r.system == system]


def check_comparable(runs: Sequence[LoadedRun], allow_different: tuple[str, ...] = ()) -> list[str]:
    """Refuse runs that cannot be paired, naming the runs and every field that differs; returns the
    differences ``allow_different`` waived, for the output to state."""
    unknown = [field for field in allow_different if field not in WAIVABLE_FIELDS]
    if unknown:
        raise ConfigError(
            f"--allow-different takes {', '.join(WAIVABLE_FIELDS)}; not {', '.join(unknown)} "
            "(runs of other tasks or data share no probes to pair)"
        )
    first, waived = runs[0], []
    for other in runs[1:]:
        differences = comparability_differences(first, other, allow_different)
        if differences:
            raise ConfigError(
                f"cannot pair {first.run_dir} with {other.run_dir}: they differ in "
                + "; ".join(differences)
                + ". Only runs with the same task, options, data, reader and judge are paired "
                "(compare two judges with membench score; let the reader, judge or task options "
                "differ on purpose with --allow-different)"
            )
        waived += [d for d in comparability_differences(first, other) if d not in waived]
    return waived


def run_names(runs: Sequence[LoadedRun]) -> list[str]:
    """Each run's label, with its run id appended where two runs would otherwise share one."""
    labels = [r.label for r in runs]
    return [
        f"{label} [{run.manifest.run_id}]" if labels.count(label) > 1 else label
        for label, run in zip(labels, runs, strict=True)
    ]


def resolve_baseline(runs: Sequence[LoadedRun], names: Sequence[str], baseline: str) -> str:
    """The run name ``baseline`` designates (``runs.match_run``); naming none of the runs is an error."""
    match = match_run(baseline, list(zip(names, runs, strict=True)))
    if match is None:
        raise ConfigError(f"baseline '{baseline}' matches none of the runs: {'; '.join(names)}")
    return match


def resolve_metrics(specs: Sequence[MetricSpec], wanted: Sequence[str], every: bool) -> list[MetricSpec]:
    by_name = {s.name: s for s in specs}
    if every:
        return list(specs)
    if not wanted:
        return [next(s for s in specs if s.main)]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; known metrics: {', '.join(by_name)}")
    return [by_name[name] for name in dict.fromkeys(wanted)]


# ---------------------------------------------------------------- the comparisons


def compare_runs(
    runs: Sequence[LoadedRun],
    *,
    metrics: Sequence[str] = (),
    all_metrics: bool = False,
    baseline: str | None = None,
    n_boot: int = 10000,
    seed: int = 0,
    alpha: float = ALPHA,
    confidence: float = CONFIDENCE,
    allow_different: tuple[str, ...] = (),
) -> CompareResult:
    """Every requested metric compared across ``runs``, one Holm family per metric."""
    from membench.stats import compare_family
    from membench.stats.policy import detectable_difference

    runs, set_aside, differing = pairable_runs(runs, allow_different)
    task = runs[0].task
    names = run_names(runs)
    base = resolve_baseline(runs, names, baseline) if baseline is not None else None
    frames = {name: run.contributions() for name, run in zip(names, runs, strict=True)}
    families = []
    for spec in resolve_metrics(task.metrics, metrics, all_metrics):
        specs = _closure(task.metrics, spec.name)
        views = {name: _RunMetric.of(frame, specs, spec.name) for name, frame in frames.items()}
        family = compare_family(
            {name: view.rows for name, view in views.items()},
            specs,
            spec.name,
            baseline=base,
            alpha=alpha,
            n_boot=n_boot,
            seed=seed,
            confidence=confidence,
        )
        estimates: dict[tuple[str, frozenset[str]], MetricEstimate] = {}
        pairs = []
        for member in family.members:
            c = member.comparison
            a, b = views[c.name_a], views[c.name_b]
            estimate_a = _paired_estimate(specs, spec.name, c.name_a, a, b, estimates, n_boot, seed)
            estimate_b = _paired_estimate(specs, spec.name, c.name_b, b, a, estimates, n_boot, seed)
            pairs.append(
                PairResult(
                    member=member,
                    estimate_a=estimate_a,
                    estimate_b=estimate_b,
                    mde=detectable_difference(c.se, c.n_clusters, len(family.members), alpha, POWER),
                    favours=_favours(spec, c.name_a, c.name_b, estimate_a, estimate_b),
                    only_a=_names(a.keys - b.keys),
                    only_b=_names(b.keys - a.keys),
                    errored_a=_names(a.errored & b.keys),
                    errored_b=_names(b.errored & a.keys),
                )
            )
        clusters = None if task.cluster_label is None else task.cluster_noun()
        families.append(MetricFamily(spec, family, tuple(pairs), clusters))
    return CompareResult(
        task=runs[0].task_name,
        fingerprint=runs[0].dataset_fingerprint,
        runs=tuple(runs),
        names=tuple(names),
        baseline=base,
        families=tuple(families),
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        differing=tuple(differing),
        set_aside=tuple((aside.run_dir, run.run_dir) for aside, run in set_aside),
    )


def _closure(specs: Sequence[MetricSpec], name: str) -> list[MetricSpec]:
    """``name``'s spec and those it derives from: the statistics then compute only what is needed."""
    by_name = {s.name: s for s in specs}
    needed: dict[str, None] = {}
    stack = [name]
    while stack:
        current = stack.pop()
        if current not in needed:
            needed[current] = None
            stack.extend(by_name[current].inputs)
    return [s for s in specs if s.name in needed]


#: a probe as one string, "episode_id<US>probe_id": cheap to hash, to test for membership, to sort.
_SEP = "\x1f"


@dataclass(frozen=True)
class _RunMetric:
    """One run's rows for one metric (and what it derives from), with each row's probe and the
    probes the run has for the metric and those that errored."""

    rows: pd.DataFrame
    row_keys: pd.Series
    keys: frozenset[str]
    errored: frozenset[str]

    @classmethod
    def of(cls, frame: pd.DataFrame, specs: Sequence[MetricSpec], metric: str) -> _RunMetric:
        """Errored probes are those the paired test leaves out (``stats.frame.uncounted_errors``): an
        "(all)" metric keeps an errored probe, counted as 0, and so does the value shown beside it."""
        from membench.stats.frame import prepare, uncounted_errors
        from membench.stats.metrics import MetricSet

        rows = frame[frame["metric"].isin([s.name for s in specs])]
        row_keys = rows["episode_id"].astype(str) + _SEP + rows["probe_id"].astype(str)
        metrics = MetricSet(specs)
        leaf_rows = prepare(rows, metrics, metrics.leaves(metric))
        leaf_keys = row_keys.iloc[leaf_rows.index.to_numpy()]
        errored = leaf_keys[uncounted_errors(leaf_rows)]
        return cls(rows, row_keys, frozenset(leaf_keys), frozenset(errored))


def _paired_estimate(
    specs: Sequence[MetricSpec],
    metric: str,
    name: str,
    own: _RunMetric,
    other: _RunMetric,
    cache: dict[tuple[str, frozenset[str]], MetricEstimate],
    n_boot: int,
    seed: int,
) -> MetricEstimate:
    """``name``'s estimate on the probes both runs scored without error: its value in the comparison."""
    from membench.stats import estimate

    dropped = (own.keys - other.keys) | ((own.errored | other.errored) & own.keys)
    key = (name, frozenset(dropped))
    if key not in cache:
        rows = own.rows[~own.row_keys.isin(dropped).to_numpy()] if dropped else own.rows
        result = estimate(rows, specs, n_boot=n_boot, seed=seed)
        cache[key] = next(e for e in result if e.metric == metric)
    return cache[key]


def _favours(spec: MetricSpec, name_a: str, name_b: str, a: MetricEstimate, b: MetricEstimate) -> str | None:
    """The side the paired values favour; none for a target metric, whose test (of B - A) says the
    two differ but not which is closer to the target, so no side is printed beside its ``*``."""
    if spec.better == "target":
        return None
    side = spec.preferred(a.value, b.value)
    return None if side is None else (name_a if side == "a" else name_b)


def _names(keys: frozenset[str]) -> tuple[ProbeName, ...]:
    return tuple(key.replace(_SEP, "/", 1) for key in sorted(keys))
