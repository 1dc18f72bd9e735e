"""A table printed as its rows arrive, for listings too long to hold (``agentrange audit show``).

A Rich :class:`~rich.table.Table` measures every row before it prints one, so a table of a
100,000-record log holds all of them and takes minutes. :class:`StreamTable` fixes the column
widths from the first rows (a sample), fits them to the terminal and prints every row as it
comes, in Rich's look (heavy head, folded cells). A later cell wider than its column folds onto
more lines of the same row. Cell text is shown as it is, except characters that would act on
the terminal (escape sequences, control characters), which are shown escaped, and a cell over
:data:`MAX_CELL_CHARS` characters (no simulator record has one; a hostile log may), which is cut
there and says how many characters it holds beyond.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Literal

from rich.cells import cell_len, chop_cells
from rich.console import COLOR_SYSTEMS, Console
from rich.style import Style

Cell = str | tuple[str, str]
"""A cell: its text, or its text and a Rich style for it (``"bold red"``)."""

_FLUSH_LINES = 256
MAX_CELL_CHARS = 1000
"""Characters of a cell shown; past them the cell says how many more there are."""
_Box = tuple[tuple[str, str, str, str], ...]
# Rich's HEAVY_HEAD: top, header row (edge, -, divider), head rule, body row, bottom.
_HEAVY: _Box = (("┏", "━", "┳", "┓"), ("┃", "", "┃", ""), ("┡", "━", "╇", "┩"),
                ("│", "", "│", ""), ("└", "─", "┴", "┘"))
_ASCII: _Box = (("+", "-", "+", "+"), ("|", "", "|", ""), ("+", "=", "+", "+"),
                ("|", "", "|", ""), ("+", "-", "+", "+"))


@dataclass(frozen=True)
class Column:
    """One column: its header, how its cells are justified, their style and a floor width.

    Attributes:
        name: The header.
        justify: ``left`` or ``right``.
        style: A Rich style for every cell of the column (a cell's own style wins).
        min_width: The narrowest the column is made from its sample (a number column sized
            for the largest value to come, not the largest seen so far).
    """

    name: str
    justify: Literal["left", "right"] = "left"
    style: str = ""
    min_width: int = 0


def printable(text: str) -> str:
    """The text with every non-printable character (ESC, tab, newline ...) written escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def shown(text: str) -> str:
    """A cell's text as shown: :func:`printable`, and cut at :data:`MAX_CELL_CHARS` saying so."""
    if len(text) > MAX_CELL_CHARS:
        more = len(text) - MAX_CELL_CHARS
        text = f"{text[:MAX_CELL_CHARS]}... ({more:,} more characters)"
    return text if text.isprintable() else printable(text)


def _fold(text: str, width: int) -> list[str]:
    if text.isascii():
        if len(text) <= width:
            return [text]
        return [text[i:i + width] for i in range(0, len(text), width)]
    return chop_cells(text, width) or [""]


def _pad(text: str, width: int, justify: str) -> str:
    if text.isascii():
        return text.rjust(width) if justify == "right" else text.ljust(width)
    gap = max(0, width - cell_len(text))
    return " " * gap + text if justify == "right" else text + " " * gap


class StreamTable:
    """A table whose rows are printed as an iterable yields them (see the module docstring).

    Args:
        columns: The columns, left to right.
        title: A line printed above the table, or None.
        sample: How many rows fix the column widths before the first is printed.
    """

    def __init__(self, columns: Sequence[Column], *, title: str | None = None,
                 sample: int = 200) -> None:
        self.columns = tuple(columns)
        self.title = title
        self.sample = sample
        self.width = 0
        """The table's width in cells, once printing has started."""
        self.rows = 0
        """How many rows have been printed (so far, when the rows' source failed)."""
        self._styles: dict[str, tuple[str, str]] = {}
        self._color = False
        self._system = COLOR_SYSTEMS["standard"]
        self._box = _HEAVY

    def print(self, console: Console, rows: Iterable[Sequence[Cell]]) -> None:
        """Print the table to ``console``, each row as soon as the widths are fixed.

        The widths are fixed by the first :attr:`sample` rows (or all, if fewer). If ``rows``
        raises, the rows already read are printed and the table closed before the error goes
        on. :attr:`rows` counts the rows printed.
        """
        system = console.color_system
        self._color = system is not None and not console.no_color
        self._system = COLOR_SYSTEMS.get(system or "", COLOR_SYSTEMS["standard"])
        self._box = _HEAVY if console.encoding.lower().startswith("utf") else _ASCII
        out = console.file
        source = iter(rows)
        head: list[Sequence[Cell]] = []
        lines: list[str] = []
        widths: list[int] | None = None
        self.rows = 0
        try:
            for row in source:
                head.append(row)
                if len(head) >= self.sample:
                    break
            widths = self._fit(head, console.width)
            lines.extend(self._start(widths))
            for row in chain(head, source):
                lines.extend(self._row(widths, row))
                self.rows += 1
                if len(lines) >= _FLUSH_LINES:
                    out.write("\n".join(lines) + "\n")
                    lines.clear()
        finally:
            if widths is None:  # rows failed inside the sample: show what was read
                widths = self._fit(head, console.width)
                lines.extend(self._start(widths))
                for row in head:
                    lines.extend(self._row(widths, row))
                self.rows = len(head)
            lines.append(self._rule(4, widths))
            out.write("\n".join(lines) + "\n")
            out.flush()

    def caption(self, console: Console, text: str) -> None:
        """Print ``text`` centred under the table, in Rich's caption style."""
        text = printable(text)
        pad = max(0, (self.width - cell_len(text)) // 2)
        console.file.write(" " * pad + self._paint(text, "dim italic") + "\n")

    # -- layout

    def _fit(self, head: list[Sequence[Cell]], total: int) -> list[int]:
        """Natural widths from the sample, narrowed (widest first) to fit ``total`` cells."""
        widths = [max(c.min_width, cell_len(c.name)) for c in self.columns]
        for row in head:
            for i, cell in enumerate(row):
                text = shown(cell if isinstance(cell, str) else cell[0])
                size = len(text) if text.isascii() else cell_len(text)
                if size > widths[i]:
                    widths[i] = size
        room = max(len(widths), total - 3 * len(widths) - 1)
        floors = [min(w, max(1, c.min_width)) for w, c in zip(widths, self.columns, strict=True)]
        while sum(widths) > room:
            widest = max(range(len(widths)), key=lambda i: widths[i] - floors[i])
            if widths[widest] <= floors[widest]:
                break
            widths[widest] -= 1
        self.width = sum(widths) + 3 * len(widths) + 1
        return widths

    def _rule(self, which: int, widths: list[int]) -> str:
        left, fill, cross, right = self._box[which]
        return left + cross.join(fill * (w + 2) for w in widths) + right

    def _start(self, widths: list[int]) -> Iterator[str]:
        if self.title is not None:
            yield self._paint(printable(self.title), "italic")
        yield self._rule(0, widths)
        yield from self._lines(widths, [(c.name, "bold") for c in self.columns], 1)
        yield self._rule(2, widths)

    def _row(self, widths: list[int], row: Sequence[Cell]) -> list[str]:
        cells: list[tuple[str, str]] = []
        for cell, column in zip(row, self.columns, strict=True):
            if isinstance(cell, str):
                cells.append((cell, column.style))
            else:
                cells.append((cell[0], cell[1] or column.style))
        return self._lines(widths, cells, 3)

    def _lines(self, widths: list[int], cells: list[tuple[str, str]], which: int) -> list[str]:
        edge, _, inner, _ = self._box[which]
        paint = self._paint if self._color else None
        texts = []
        simple = True  # every cell ASCII and within its width: one line, padded at C speed
        for (text, _), width in zip(cells, widths, strict=True):
            text = shown(text)
            if simple and (len(text) > width or not text.isascii()):
                simple = False
            texts.append(text)
        if simple:
            parts = [
                text.rjust(width) if column.justify == "right" else text.ljust(width)
                for text, width, column in zip(texts, widths, self.columns, strict=True)
            ]
            if paint is not None:
                parts = [paint(part, style) if text else part
                         for part, text, (_, style) in zip(parts, texts, cells, strict=True)]
            return [f"{edge} " + f" {inner} ".join(parts) + f" {edge}"]
        folded = [_fold(text, width) for text, width in zip(texts, widths, strict=True)]
        height = max(len(pieces) for pieces in folded)
        columns = []
        for pieces, (_, style), width, column in zip(folded, cells, widths, self.columns,
                                                     strict=True):
            padded = [_pad(piece, width, column.justify) for piece in pieces]
            if paint is not None and style:
                padded = [paint(text, style) for text in padded]
            columns.append(padded + [" " * width] * (height - len(padded)))
        divider = f" {inner} "
        return [f"{edge} {divider.join(parts)} {edge}" for parts in zip(*columns, strict=True)]

    def _paint(self, text: str, style: str) -> str:
        if not (self._color and style):
            return text
        codes = self._styles.get(style)
        if codes is None:
            rendered = Style.parse(style).render("\0", color_system=self._system)
            before, _, after = rendered.partition("\0")
            codes = self._styles[style] = (before, after)
        return codes[0] + text + codes[1]
