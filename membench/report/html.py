"""``leaderboard.html``: one self-contained page (inline CSS and SVG, no script, no request).

A Content-Security-Policy meta tag forbids every fetch (``default-src 'none'``) and allows only the
inline style, so even a dataset text that slipped past escaping could not load anything; autoescaping
is on for every template, and the SVG builder escapes its own texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from membench.report import format as fmt
from membench.report import svg
from membench.report.collect import CONFIDENCE, SIGNIFICANT, Board, Settings, protocol
from membench.runs import role_label

#: the page may load nothing: no script, image, font, frame or connection; only its inline style.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def environment() -> Environment:
    """The template environment both page kinds use; autoescape is on for every template."""
    env = Environment(
        loader=PackageLoader("membench.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(fmt=fmt, svg=svg, csp=CSP, confidence=CONFIDENCE, significant=SIGNIFICANT)
    env.globals["role_label"] = role_label
    env.filters["pretty"] = pretty_json
    return env


def pretty_json(value: Any) -> str:
    """Indented JSON with sorted keys: gold answers and judge details, shown as text (escaped later)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def render_html(boards: Sequence[Board], settings: Settings, n_runs: int) -> str:
    template = environment().get_template("leaderboard.html.j2")
    return template.render(boards=boards, settings=settings, n_runs=n_runs, protocol=protocol(settings))
