"""``leaderboard.html``: one self-contained page (inline CSS and SVG, no script, no request).

A Content-Security-Policy meta tag forbids every fetch (``default-src 'none'``) and allows only the
inline style, so even a dataset text that slipped past escaping could not load anything; autoescaping
is on for every template, and the SVG builder escapes its own texts.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined

from membench.analysis.runs import role_label
from membench.core import numbers as fmt
from membench.reporting import svg
from membench.reporting.collect import (
    BETTER_LEGEND,
    CONFIDENCE,
    SIGNIFICANT,
    Board,
    Settings,
    better_cell,
    protocol,
)
from membench.reporting.curves import LATENCY_CAPTION, spread_cells

#: a page shows at most MAX_CHARS characters of an answer: everything stays in records.jsonl, and the
#: page says how much it left out.
MAX_CHARS = 400

#: the page may load nothing: no script, image, font, frame or connection; only its inline style.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def environment() -> Environment:
    """The template environment both page kinds use; autoescape is on for every template."""
    env = Environment(
        loader=PackageLoader("membench.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(fmt=fmt, svg=svg, csp=CSP, confidence=CONFIDENCE, significant=SIGNIFICANT)
    env.globals.update(latency_caption=LATENCY_CAPTION, spread_cells=spread_cells)
    env.globals["role_label"] = role_label
    env.globals.update(better_legend=BETTER_LEGEND, better_cell=better_cell)
    env.filters["clip_text"] = clip_text
    return env


def clip_text(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters in records.jsonl]"


def render_html(boards: Sequence[Board], settings: Settings, n_runs: int) -> str:
    template = environment().get_template("leaderboard.html.j2")
    return template.render(boards=boards, settings=settings, n_runs=n_runs, protocol=protocol(settings))
