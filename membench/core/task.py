"""The Task seam: a benchmark as a folder under ``tasks/``.

A task loads (or builds) its data into Episodes and Probes, builds its judges, and turns records into
metric *contributions*: every metric is a ratio Σnum / Σden over contributions, or is derived from
other metrics (F1 from recall and precision). Keeping metrics in that form lets the statistics layer
resample episodes (the clusters) and recompute every metric exactly, without task-specific code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from membench.core.errors import ConfigError
from membench.core.identity import TaskIdentity
from membench.core.suggest import unknown_name
from membench.core.types import Dataset, IngestRecord, Probe, Record

if TYPE_CHECKING:  # the seams a task builds sit above core: importing this module loads none of them
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader


#: which value of a metric is the better one (``MetricSpec.better``).
Better = Literal["higher", "lower", "target", "descriptive"]


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is named, read and computed.

    ``derive`` is set for metrics computed from other metrics' values (listed in ``inputs``);
    every other metric aggregates its contributions: ``ratio`` is Σnum / Σden, ``sum`` is Σnum
    (counts such as the number of extracted memories). ``scale`` multiplies the value for display
    (100 for percentages, 1 for seconds and counts). ``bounds`` is the range a derived metric's value
    cannot leave (F1: (0, 1)); intervals are clipped to it. A ratio needs none: when each contribution
    lies within [0, den] its value is known to lie in [0, 1].

    ``better`` says which value is the better one: ``higher``, ``lower``, ``target`` (closest to
    ``target``, on the metric's own scale: SORT's share of A answers is unbiased at 0.5), or
    ``descriptive`` (a count read beside the scores, such as the number of extracted memories, which
    nothing ranks or favours). ``loss`` is the one implementation of that order.

    ``variant_of`` names the metric this one is a variant of (HaluMem's paper-style "(all)" twin of
    each "(valid)" metric): the run summary shows it in a column beside that metric, headed
    ``variant_label``, instead of in a row of its own, and explains the column with ``variant_legend``.
    """

    name: str
    display: str
    better: Better = "higher"
    main: bool = False
    group: str = ""
    aggregate: Literal["ratio", "sum"] = "ratio"
    scale: float = 100.0
    unit: str = "%"
    inputs: tuple[str, ...] = ()
    derive: Callable[[Mapping[str, float]], float] | None = None
    note: str = ""
    bounds: tuple[float, float] | None = None
    variant_of: str = ""
    variant_label: str = ""
    variant_legend: str = ""
    target: float | None = None

    def __post_init__(self) -> None:
        if bool(self.variant_of) != bool(self.variant_label):
            raise ValueError(f"metric {self.name}: a variant needs both variant_of and variant_label")
        if (self.better == "target") != (self.target is not None):
            raise ValueError(f"metric {self.name}: better='target' and a target value go together")
        if self.main and self.better not in ("higher", "lower"):
            raise ValueError(f"metric {self.name}: a main metric ranks systems, so it is higher or lower")

    @property
    def ranked(self) -> bool:
        """Whether values of this metric are better or worse at all (a descriptive count is neither)."""
        return self.better != "descriptive"

    def loss(self, value: float) -> float:
        """How far ``value`` (on the metric's own scale) is from the best: smaller is better."""
        if self.better == "higher":
            return -value
        if self.better == "lower":
            return value
        if self.better == "target":
            assert self.target is not None
            return abs(value - self.target)
        raise ValueError(f"metric {self.name} is descriptive: no value of it is better than another")

    def preferred(self, a: float | None, b: float | None) -> Literal["a", "b"] | None:
        """Which of two values is the better one; None when equal, undefined or descriptive."""
        if a is None or b is None or not self.ranked or self.loss(a) == self.loss(b):
            return None
        return "a" if self.loss(a) < self.loss(b) else "b"

    def better_text(self) -> str:
        """The direction as outputs print it: "higher is better", "50% is best", "descriptive"."""
        if self.better == "target":
            assert self.target is not None
            return f"{self.target * self.scale:g}{self.unit} is best"
        if self.better == "descriptive":
            return "descriptive, not a score"
        return f"{self.better} is better"


@dataclass(frozen=True)
class Curve:
    """A metric drawn against a numeric probe label, one line per system (ConvoMem's accuracy and cost
    against the number of conversations, SORT's accuracy against excerpt length).

    ``axis`` is a label key of ``Probe.labels`` whose values are numbers; ``metric`` is one of the
    task's metric names. ``log_x`` spaces the axis logarithmically, for grids such as 1 ... 300.
    A curve's points are estimated from the probes ``where`` selects, with the same clustered intervals
    as every breakdown.
    """

    axis: str
    metric: str
    title: str = ""
    log_x: bool = False
    #: only probes whose labels have these values (one WorM variant, one list length).
    where: Mapping[str, str] = field(default_factory=dict)
    #: the metric's chance level on its own scale (0.5 for a yes/no answer), drawn as a line.
    chance: float | None = None
    #: reference curves drawn beside the systems' (the paper's human data), each labelled.
    references: tuple[ReferenceCurve, ...] = ()


@dataclass(frozen=True)
class ReferenceCurve:
    """Points measured elsewhere (humans in the original study), drawn on a ``Curve`` for comparison;
    ``label`` says where they come from. ``points`` are (axis value, metric value on its own scale)."""

    label: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Contribution:
    """One probe's (or one element's) share of one metric: ``num`` over ``den``.

    ``error`` marks contributions from records that errored: they carry den=0 in "valid" metrics
    and are counted so reports can show how many items each metric lost.
    """

    metric: str
    episode_id: str
    probe_id: str
    num: float
    den: float
    labels: Mapping[str, str] = field(default_factory=dict)
    error: bool = False


class Task(ABC):
    """Base class for tasks. One subclass per folder ``tasks/<name>/task.py`` (exported as ``TASK``)."""

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    metrics: ClassVar[tuple[MetricSpec, ...]]
    #: label keys of ``Probe.labels`` that reports break metrics down by.
    breakdowns: ClassVar[tuple[str, ...]] = ()
    #: judges this task can build, by name; the first is the offline default.
    judge_names: ClassVar[tuple[str, ...]] = ("rule",)
    #: metrics reports draw against a numeric label (``Curve``), in the order given.
    curves: ClassVar[tuple[Curve, ...]] = ()
    #: numeric labels reports give a latency table by (p50/p90/p99 per level); None: every curve axis.
    #: A task whose curve axes mean different things in different probes (WorM's set size in CD and
    #: in SMU) names none, since a table pooling them would describe no condition.
    latency_axes: ClassVar[tuple[str, ...] | None] = None
    #: a label key whose value is the statistical cluster instead of the episode, for a task whose
    #: episodes are not independent (ConvoMem: haystacks of one persona share its filler and its items
    #: recur across sizes, so the persona is the cluster). Applied once, in
    #: ``stats.frame.contributions_table``.
    cluster_label: ClassVar[str | None] = None
    #: True when ``contributions`` computes nothing across episodes: a run's contributions are then
    #: each episode's own, taken from its records and ingests alone, which the runner does as each
    #: episode ends instead of reading the whole run back for its summary. False (the safe default)
    #: for a task that weighs or decides by the whole run (episodic's per-cell weights, LoCoMo's
    #: "does this judge give verdicts"). tests/contract/test_contributions_per_episode.py checks the
    #: claim on each task's tiny built data, with every offline judge and a wholly failed episode.
    contributions_per_episode: ClassVar[bool] = False
    #: readers this task ships, by name (``make_reader`` builds them); on this task's runs they come
    #: before the registry's readers of the same name, and ``membench list readers`` shows them.
    reader_names: ClassVar[tuple[str, ...]] = ()
    #: the offline reader this task's answer probes need: one of ``reader_names`` or a registered reader.
    default_reader: ClassVar[str] = "extractive"
    default_options: ClassVar[Mapping[str, str]] = {}
    #: one line of help per option of ``default_options`` (what it sets, its values), for ``membench list
    #: tasks``; the contract test checks every option has one.
    option_help: ClassVar[Mapping[str, str]] = {}
    #: options that decide built data only: left out of the identity when ``-T data=PATH`` is given.
    builder_options: ClassVar[tuple[str, ...]] = ()
    #: options that only check an input (a checksum) and decide no result: two runs that differ in them
    #: are still comparable (``analysis.runs.comparable_values``).
    check_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, str], data_dir: Path) -> None:
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            what, hint = f"{self.name} option", "membench list tasks"
            errors = [unknown_name(what, key, self.default_options, hint) for key in unknown]
            raise ConfigError("; ".join(errors))
        self.options: dict[str, str] = {**self.default_options, **options}
        self.data_dir = data_dir

    def identity(self) -> TaskIdentity:
        """What decides the data and the scoring: the options, minus what given data makes moot.

        With ``-T data=PATH`` the options in ``builder_options`` decide nothing (the file does, and its
        contents are in the dataset fingerprint), and the path is reduced to its file name, so the
        same file at another place is the same run.
        """
        options = dict(self.options)
        if options.get("data"):
            for key in self.builder_options:
                options.pop(key, None)
            options["data"] = Path(options["data"]).name
        return {"name": self.name, "version": self.version, "options": dict(sorted(options.items()))}

    def int_option(self, key: str) -> int:
        """Option ``key`` as an integer, or a ConfigError naming it."""
        try:
            return int(self.options[key])
        except ValueError as exc:
            raise ConfigError(f"task option {key} must be an integer, got '{self.options[key]}'") from exc

    @abstractmethod
    def load(self) -> Dataset:
        """Episodes and probes, building the offline data first when it is absent."""

    @abstractmethod
    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        """Build judge ``name`` (one of ``judge_names``); ``llm`` is the judge's client, for LLM judges."""

    def make_reader(self, name: str) -> Reader:
        """Build reader ``name`` (one of ``reader_names``); a task that ships readers overrides this."""
        raise ConfigError(f"task '{self.name}' ships no reader '{name}'")

    @abstractmethod
    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        """Every metric contribution of one run's records (and its ingest timings)."""

    def build(self) -> Path:
        """Write the offline data with the task's seeded builder; returns the file written."""
        raise ConfigError(f"task '{self.name}' has no offline builder")

    def pull(self, dest_dir: Path, sha256: str | None = None) -> Path:
        """Download the official release (only ever on a user's request)."""
        raise ConfigError(f"task '{self.name}' has no official download")

    def evidence(self, dataset: Dataset) -> dict[str, list[str]]:
        """The facts each session establishes that gold answers rest on, by session id: what the
        oracle system stores (the retrieval upper bound). A task without such gold says so here."""
        raise ConfigError(f"task '{self.name}' has no per-session evidence, so the oracle cannot run on it")

    def check_judge(self, judge: Judge, dataset: Dataset) -> None:
        """Raise ConfigError before any work when ``judge`` cannot score ``dataset`` (default: all can)."""
        return None

    def expected_judge_calls(self, probe: Probe) -> int:
        """LLM judge calls one probe costs before any answer is known (for ``--dry-run``)."""
        return 1

    def cluster_noun(self) -> str:
        """What outputs call this task's statistical clusters: episodes, or the label's values."""
        return "episodes" if self.cluster_label is None else f"clusters (by {self.cluster_label})"

    def main_metric(self) -> MetricSpec:
        return next(m for m in self.metrics if m.main)
