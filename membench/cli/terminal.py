"""Text for a terminal of a given width: the one set of rules the run summary and ``compare`` follow.

Every line they print fits the width (80 columns in a default terminal, tmux or a pipe): prose wraps
at spaces with a hanging indent, a shell command breaks at spaces with a trailing backslash so that it
can still be pasted, and a table is drawn wide only when it fits unwrapped, else in a narrow layout.
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

#: a width no line reaches: what a renderable is measured in to learn its natural width.
UNBOUNDED = 100_000
#: the indent of a wrapped line's continuation, and of a command under the line that introduces it.
INDENT = "  "


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console for plain text: no markup, highlighting or emoji codes read into run labels or ids.

    Without ``width`` rich takes the terminal's; piped, the ``COLUMNS`` variable when set, else 80
    (never a guess wider than a default terminal)."""
    from rich.console import Console

    return Console(file=file, width=width, markup=False, highlight=False, emoji=False)


def wrap(text: str, width: int, indent: str = INDENT) -> list[str]:
    """``text`` as lines of at most ``width``, continuations indented. A word is never cut: one longer
    than a line (a deep path) gets a line of its own, which the console folds only if it must."""
    return textwrap.wrap(
        text,
        width=width,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [""]


def print_paragraphs(paragraphs: Iterable[str], file: IO[str]) -> None:
    """Each paragraph on ``file``, wrapped at the width of a console on it; one that starts indented
    (an item under a heading) has its continuations one indent deeper."""
    width = make_console(file).width
    for text in paragraphs:
        for line in wrap(text, width, indent=INDENT * 2 if text.startswith(INDENT) else INDENT):
            print(line, file=file)


def command(text: str, width: int, indent: str = INDENT) -> list[str]:
    """A shell command indented under the line that introduces it, broken between its words with a
    trailing `` \\`` where it is longer than ``width``, so that the lines pasted together still run it.

    ``text`` is read as a shell reads it, and each word written back quoted: a quoted word with a
    space in it (``--results-dir 'my results'``) is never broken inside its quotes."""
    lines: list[str] = []
    current = indent
    for word in map(shlex.quote, shlex.split(text)):
        fresh = current.strip() == ""
        if not fresh and len(current) + 1 + len(word) + 2 > width:
            lines.append(current + " \\")
            current = indent * 2 + word
        else:
            current = current + word if fresh else f"{current} {word}"
    lines.append(current)
    return lines


def fits(console: Console, renderable: RenderableType, *, wrapping: bool = False) -> bool:
    """Whether ``renderable`` takes no more than the console's width with nothing wrapped, or with
    ``wrapping`` once every cell free to wrap is wrapped at its spaces (measured without the
    console's bound, which would clip the measure to the width)."""
    unbounded = console.options.update_width(UNBOUNDED)
    measure = console.measure(renderable, options=unbounded)
    return (measure.minimum if wrapping else measure.maximum) <= console.width
