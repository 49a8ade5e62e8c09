"""Gold answers, probe inputs and judge details on a run page: readable fields, not a JSON dump.

Every task puts its own dict in ``Probe.gold`` (an answer, memory points, a vocabulary, a format and
its items), so the page renders any dict the same way, one level deep:

- a dict is a definition list (``<dl>``: key, then value);
- a list of plain values is a list; a list of dicts is a table, one per set of keys (HaluMem's judge
  details mix gold points and memories, which share no columns), with the columns every row holds the
  same value in said once above it;
- anything deeper is written inline ("subject: lives in; required: Seattle"; empty entries left out).

Long texts and lists show their start and open the rest in place (``<details>``), so the page stays
short and the full gold is still on it. A long value that recurs in several probes (the vocabulary
of every Episodic question on one trait) is written once at the end of the page, and each probe
links to it. Judge details are kept in records.jsonl: past ``DETAIL_ROWS`` rows the page says how
many more there are. Every text is escaped here (``text_html``); the result is ``Markup``.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

#: a text shows this many characters, and opens the rest in place.
CLIP_CHARS = 160
#: a list shows this many items (a table this many rows), and opens the rest in place.
LIST_ITEMS = 12
#: what opening a long value shows at most (the rest of a 2,000-chapter book's gold is in the data).
OPEN_CHARS = 4000
OPEN_ITEMS = 200
#: judge details show this many rows; the others are counted (all are in records.jsonl).
DETAIL_ROWS = 3
#: a gold or input field whose compact JSON is at least this long, and which recurs in another probe
#: of the page, is written once at the end of the page.
SHARED_CHARS = 200

NONE = Markup("—")


@dataclass(frozen=True)
class SharedValue:
    """A long field value written once on the page: its anchor, field name and how many probes use it."""

    anchor: str
    key: str
    value: Any
    uses: int


class SharedValues:
    """The long field values that recur across the page's probes, each with an anchor (``shared-N``)."""

    def __init__(self, fields: Iterable[Mapping[str, Any]]) -> None:
        counts: Counter[tuple[str, str]] = Counter()
        first: dict[tuple[str, str], Any] = {}
        for mapping in fields:
            for key, value in mapping.items():
                text = _canonical(value)
                if len(text) >= SHARED_CHARS:
                    counts[(key, text)] += 1
                    first.setdefault((key, text), value)
        self._anchors: dict[tuple[str, str], str] = {}
        self.values: list[SharedValue] = []
        for identity, uses in counts.items():
            if uses > 1:
                anchor = f"shared-{len(self.values) + 1}"
                self._anchors[identity] = anchor
                self.values.append(SharedValue(anchor, identity[0], first[identity], uses))

    def anchor(self, key: str, value: Any) -> str | None:
        if not self._anchors:
            return None
        return self._anchors.get((key, _canonical(value)))


#: the name a judge's detail takes beside the gold row it judges ("judge g", "judge reason").
JUDGE = "judge "
_ABSENT = object()


def attach_details(
    gold: Mapping[str, Any], details: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
    """``gold`` with each judge detail that names one of its rows put beside that row, and the
    details that name none.

    A judge's details usually name the gold element they judge by an id and copy some of its
    fields (HaluMem: one detail per gold point, by ``point_id``). A detail names a gold row (a
    dict field, or a dict in a list field) when one of its texts equals that key's value in exactly
    one row; the row then gains the detail's other fields that it does not hold already, as
    ``JUDGE + key``, so the point and its verdict are read on one line and nothing is shown twice.
    """
    rows: list[dict[str, Any]] = []
    shaped: dict[str, Any] = {}
    for key, value in gold.items():
        if isinstance(value, Mapping):
            shaped[key] = dict(value)
            rows.append(shaped[key])
        elif isinstance(value, (list, tuple)) and value and all(isinstance(item, Mapping) for item in value):
            shaped[key] = [dict(item) for item in value]
            rows.extend(shaped[key])
        else:
            shaped[key] = value
    named: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, str):
                named.setdefault((key, value), []).append(row)
    rest: list[Mapping[str, Any]] = []
    for detail in details:
        matches = [
            named[(k, v)] for k, v in detail.items() if isinstance(v, str) and len(named.get((k, v), ())) == 1
        ]
        if not matches:
            rest.append(detail)
            continue
        row = matches[0][0]
        added = {JUDGE + key: value for key, value in detail.items() if row.get(key, _ABSENT) != value}
        if any(key in row for key in added):  # a second detail on the same row stays in the list
            rest.append(detail)
            continue
        row.update(added)
    return shaped, rest


@dataclass(frozen=True)
class Fields:
    """Renders the values of one probe. ``episode``: the probe's episode id, which the ids of its
    sessions and gold points usually start with; inside a value it is shown as "…" (the probe's
    heading names it), which keeps a HaluMem point id to "…:s0:m1"."""

    episode: str = ""
    shared: SharedValues | None = None

    def mapping(self, mapping: Mapping[str, Any]) -> Markup:
        """``mapping`` as a definition list; a recurring long value is a link to where it is written."""
        if not mapping:
            return NONE
        parts = []
        for key, value in mapping.items():
            anchor = self.shared.anchor(key, value) if self.shared is not None else None
            shown = _reference(value, anchor) if anchor else self.value(value, 1)
            parts.append(Markup("<dt>{}<dd>{}").format(text_html(key), shown))
        return Markup("<dl>{}</dl>").format(Markup("").join(parts))

    def details(self, rows: Sequence[Mapping[str, Any]]) -> Markup:
        """A judge's per-element details as tables, the first ``DETAIL_ROWS`` rows; the rest counted."""
        shown = self._tables(rows[:DETAIL_ROWS])
        if len(rows) > DETAIL_ROWS:
            more = len(rows) - DETAIL_ROWS
            return shown + Markup('<p class="muted">{} more row(s) in records.jsonl</p>').format(more)
        return shown

    def text(self, value: Any) -> str:
        """``value`` as one line of text: dicts as "key: value; ...", lists comma-separated."""
        if isinstance(value, Mapping):  # an empty entry says nothing inline: "stale: —" is left out
            shown = [f"{key}: {self.text(item)}" for key, item in value.items() if not _empty(item)]
            return "; ".join(shown) or "—"
        if isinstance(value, (list, tuple)):
            return ", ".join(self.text(item) for item in value) or "—"
        if (
            isinstance(value, str)
            and self.episode
            and value.startswith(self.episode)
            and value != self.episode
        ):
            return "…" + value[len(self.episode) :]
        return scalar_text(value)

    def value(self, value: Any, depth: int) -> Markup:
        """One value at ``depth`` (1: a field of the gold; 2: inside one of its dicts or lists)."""
        if isinstance(value, Mapping) and value and depth == 1:
            parts = [
                Markup("<dt>{}<dd>{}").format(text_html(key), clipped(self.text(item)))
                for key, item in value.items()
            ]
            return Markup("<dl>{}</dl>").format(Markup("").join(parts))
        if isinstance(value, (list, tuple)) and value and depth == 1:
            if all(isinstance(item, Mapping) for item in value):
                return self._opened(value, self._tables)
            if not any(isinstance(item, (Mapping, list, tuple)) for item in value):
                return self._opened(value, self._plain_list)
        return clipped(self.text(value))

    def _opened(self, items: Sequence[Any], render: Callable[[Sequence[Any]], Markup]) -> Markup:
        """The first ``LIST_ITEMS`` items, and the rest (up to ``OPEN_ITEMS``) behind "N more"."""
        shown = render(items[:LIST_ITEMS])
        if len(items) <= LIST_ITEMS:
            return shown
        rest = items[LIST_ITEMS:OPEN_ITEMS]
        cut = Markup(' <span class="muted">(and {} more in the data)</span>').format(len(items) - OPEN_ITEMS)
        return shown + Markup('<details class="more"><summary>{} more</summary>{}{}</details>').format(
            len(items) - LIST_ITEMS, render(rest), cut if len(items) > OPEN_ITEMS else ""
        )

    def _plain_list(self, items: Sequence[Any]) -> Markup:
        return Markup('<ul class="ls">{}</ul>').format(
            Markup("").join(Markup("<li>{}").format(clipped(self.text(item))) for item in items)
        )

    def _tables(self, rows: Sequence[Mapping[str, Any]]) -> Markup:
        """Rows as tables, one per set of keys (in order of first appearance); a judge's fields
        (``attach_details``) are columns of the table of the row they judge."""
        by_keys: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            by_keys.setdefault(tuple(k for k in row if not k.startswith(JUDGE)), []).append(row)
        return Markup("").join(self._table(group) for group in by_keys.values())

    def _table(self, rows: list[Mapping[str, Any]]) -> Markup:
        """One table; with several rows, the columns every row holds the same value in are said once."""
        keys = list(dict.fromkeys(key for row in rows for key in row))
        cells = {key: [self.text(row.get(key)) for row in rows] for key in keys}
        same = [key for key in keys if len(rows) > 1 and len(set(cells[key])) == 1]
        varying = [key for key in keys if key not in same]
        caption = Markup("")
        if same:
            caption = Markup("<caption>{}</caption>").format(
                text_html(" · ".join(f"{key}: {cells[key][0]}" for key in same))
            )
        if not varying:
            return Markup("<table>{}</table>").format(caption)
        head = Markup("").join(Markup("<th>{}").format(text_html(key)) for key in varying)
        body = Markup("").join(
            Markup("<tr>{}").format(
                Markup("").join(Markup("<td>{}").format(clipped(cells[key][i])) for key in varying)
            )
            for i in range(len(rows))
        )
        return Markup("<table>{}<tr>{}{}</table>").format(caption, head, body)


def shared_html(value: SharedValue) -> Markup:
    """A recurring value where it is written in full (the end of the page)."""
    return Fields().value(value.value, 1)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple, Mapping)) and not value)


def scalar_text(value: Any) -> str:
    """A plain value as a person reads it: yes/no, "—" for none, 0.25 and 1 rather than 1.0."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def clipped(text: str) -> Markup:
    """``text``, its first ``CLIP_CHARS`` characters when longer, with the rest opening in place."""
    if len(text) <= CLIP_CHARS:
        return text_html(text)
    rest = text[CLIP_CHARS:OPEN_CHARS]
    cut = f" [{len(text) - OPEN_CHARS} more characters]" if len(text) > OPEN_CHARS else ""
    return Markup('<details class="more"><summary>{}…</summary>{}{}</details>').format(
        text_html(text[:CLIP_CHARS]), text_html(rest), cut
    )


def text_html(text: object) -> Markup:
    """``text`` escaped for an element's content (never an attribute's): ``&``, ``<`` and ``>``
    only, so the page's many apostrophes stay one byte each instead of ``&#39;``."""
    return Markup(html.escape(str(text), quote=False))


def _reference(value: Any, anchor: str) -> Markup:
    """A link to a recurring value written at the end of the page, with its size."""
    if isinstance(value, (list, tuple)):
        size = f"{len(value)} items"
    elif isinstance(value, Mapping):
        size = f"{len(value)} fields"
    else:
        size = f"{len(str(value))} characters"
    return Markup('{}, the same in other probes: <a href="#{}">{}</a>').format(size, anchor, anchor)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
