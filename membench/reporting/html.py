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

from membench.analysis.runs import role_label
from membench.core import numbers as fmt
from membench.core.types import shown_labels
from membench.reporting import svg
from membench.reporting.collect import CONFIDENCE, SIGNIFICANT, Board, Settings, protocol
from membench.reporting.curves import LATENCY_CAPTION, spread_cells

#: a run page shows at most MAX_MEMORIES retrieved memories per probe, MAX_ITEMS items of any list in
#: gold or judge details, and MAX_CHARS characters of any one text: a full-context run over a
#: 200-chapter book would otherwise write hundreds of megabytes. Everything stays in records.jsonl, and
#: the page says how much it left out.
MAX_MEMORIES = 10
MAX_ITEMS = 20
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
    env.globals.update(max_memories=MAX_MEMORIES, shown_labels=shown_labels)
    env.filters["pretty"] = pretty_json
    env.filters["clip_text"] = clip_text
    return env


def pretty_json(value: Any) -> str:
    """Indented JSON with sorted keys: gold answers and judge details, shown as text (escaped later).

    Long lists and texts are clipped (``clip``), with how much was left out said in place.
    """
    return json.dumps(clip(value), indent=2, sort_keys=True, ensure_ascii=False, default=str)


def clip_text(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters in records.jsonl]"


def clip(value: Any) -> Any:
    """``value`` with every list cut to ``MAX_ITEMS`` items and every string to ``MAX_CHARS``."""
    if isinstance(value, str):
        return clip_text(value)
    if isinstance(value, dict):
        return {key: clip(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        shown = [clip(item) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            shown.append(f"… {len(value) - MAX_ITEMS} more")
        return shown
    return value


def render_html(boards: Sequence[Board], settings: Settings, n_runs: int) -> str:
    template = environment().get_template("leaderboard.html.j2")
    return template.render(boards=boards, settings=settings, n_runs=n_runs, protocol=protocol(settings))
