"""Progress on long work: rich bars on a terminal, plain lines in CI or a pipe, nothing in tests."""

from __future__ import annotations

import os
import sys
import time
from typing import Protocol

from membench.core.types import UsageByRole


class Display(Protocol):
    def start(self, title: str, episodes: int, probes: int) -> None: ...
    def probe_done(self, errored: bool, usage: UsageByRole) -> None: ...
    def episode_done(self) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


def _cost(usage: UsageByRole) -> float:
    return sum(u.cost_usd for u in usage.values())


class NullDisplay:
    def start(self, title: str, episodes: int, probes: int) -> None:
        pass

    def probe_done(self, errored: bool, usage: UsageByRole) -> None:
        pass

    def episode_done(self) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


class PlainDisplay:
    """One line at most every ``every_s`` seconds, plus one per finished episode."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._last = 0.0

    def start(self, title: str, episodes: int, probes: int) -> None:
        self.title, self.episodes, self.probes = title, episodes, probes
        self.done_episodes = self.done_probes = self.errors = 0
        self.cost = 0.0
        self.t0 = self._last = time.monotonic()
        print(f"{title}: {episodes} episodes, {probes} probes to run", flush=True)

    def _line(self) -> str:
        elapsed = time.monotonic() - self.t0
        eta = ""
        # Before an episode has finished, the rate is that of its first probes only (ingestion not yet
        # paid for the rest): an estimate from it misleads by orders of magnitude, so none is shown.
        if self.done_episodes and self.probes > self.done_probes:
            eta = f", ETA {elapsed / self.done_probes * (self.probes - self.done_probes):.0f}s"
        return (
            f"  episodes {self.done_episodes}/{self.episodes}, probes {self.done_probes}/{self.probes}, "
            f"errors {self.errors}, cost ${self.cost:.4f}, {elapsed:.0f}s{eta}"
        )

    def probe_done(self, errored: bool, usage: UsageByRole) -> None:
        self.done_probes += 1
        self.errors += int(errored)
        self.cost += _cost(usage)
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            print(self._line(), flush=True)

    def episode_done(self) -> None:
        self.done_episodes += 1
        print(self._line(), flush=True)

    def message(self, text: str) -> None:
        print(text, flush=True)

    def stop(self) -> None:
        pass


class RichDisplay:
    """A rich progress bar with episodes, probes, errors, cost so far and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"),
            TimeRemainingColumn(),
            console=self.console,
        )

    def start(self, title: str, episodes: int, probes: int) -> None:
        self.errors = 0
        self.cost = 0.0
        self.progress.start()
        self.episode_bar = self.progress.add_task("episodes", total=episodes, extra="")
        self.probe_bar = self.progress.add_task("probes", total=probes, extra="errors 0, $0.0000")
        self.console.print(f"[bold]{title}[/]")

    def probe_done(self, errored: bool, usage: UsageByRole) -> None:
        self.errors += int(errored)
        self.cost += _cost(usage)
        self.progress.update(self.probe_bar, advance=1, extra=f"errors {self.errors}, ${self.cost:.4f}")

    def episode_done(self) -> None:
        self.progress.update(self.episode_bar, advance=1)

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        self.progress.stop()


def make_display(kind: str) -> Display:
    """``auto`` picks rich on an interactive terminal and plain lines when piped or when CI is set."""
    if kind == "auto":
        kind = "rich" if sys.stdout.isatty() and not os.environ.get("CI") else "plain"
    if kind == "rich":
        return RichDisplay()
    if kind == "plain":
        return PlainDisplay()
    return NullDisplay()
