"""A table that draws only the lines on screen: tens of thousands of rows, sorted and
filtered in memory, cost what a screenful costs to draw.

Textual's DataTable builds every row it is given (about 0.25 ms each); a fleet of
10,000 services would take seconds to open. Here a row is a plain tuple of cells
of sort keys, a search string and a function that makes its cells' texts, called
only when the row is first drawn; `render_line` builds the strip of one visible line. One header line stays on top; the cursor row is highlighted; Enter posts
`RowList.Chosen` with the row's key. Sorting is by any column (`sort_by`, or a click
on its header), filtering by text (`filter`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 2  # columns between cells


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int  # 0: takes what the other columns leave (at least FLEX_MIN)
    essential: bool = True  # on a narrow screen the flexible column leaves room for these only
    keep_end: bool = False  # a long text loses its start, not its end (paths: the name counts)


FLEX_MIN = 16


class Row:
    """One line: `sort_keys` per column (None sorts last), `search` (lower-case text the
    filter looks in), and `make_texts`, called the first time the row is drawn."""

    __slots__ = ("_texts", "key", "make_texts", "search", "sort_keys")

    def __init__(
        self, key: str, sort_keys: tuple[Any, ...], search: str, make_texts: Callable[[], tuple[Text, ...]]
    ) -> None:
        self.key = key
        self.sort_keys = sort_keys
        self.search = search
        self.make_texts = make_texts
        self._texts: tuple[Text, ...] | None = None

    @property
    def texts(self) -> tuple[Text, ...]:
        if self._texts is None:
            self._texts = self.make_texts()
        return self._texts


class RowList(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    RowList {
        height: 1fr;
        background: $surface;
    }
    RowList > .row-list--header {
        text-style: bold;
        background: $panel;
    }
    RowList > .row-list--cursor {
        background: $accent 40%;
    }
    RowList:focus > .row-list--cursor {
        background: $accent;
        color: $text;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-list--header", "row-list--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "choose", "Open", show=False),
    ]

    cursor = reactive(0, always_update=True, repaint=False)

    class Chosen(Message):
        def __init__(self, key: str) -> None:
            self.key = key
            super().__init__()

    class Sorted(Message):
        """The order changed (a header was clicked, say): the owner may say so."""

    def __init__(self, columns: Sequence[Column], *, sort_column: int = 0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self._all: list[Row] = []
        self.rows: list[Row] = []  # what is shown: filtered and sorted
        self.sort_column = sort_column
        self.sort_reverse = False
        self.filter_text = ""
        self._widths = [c.width or FLEX_MIN for c in self.columns]
        self._line_width = sum(self._widths) + GAP * (len(self.columns) - 1)

    def on_resize(self) -> None:
        """A flexible column takes the room the others leave on this screen; on a narrow
        one, the room the essential ones leave (the others are reached by scrolling)."""
        width = self.scrollable_content_region.width
        fixed = sum(c.width + GAP for c in self.columns if c.width)
        flex = width - fixed
        if flex < FLEX_MIN * 2:
            flex = max(width - sum(c.width + GAP for c in self.columns if c.width and c.essential), FLEX_MIN)
        self._widths = [c.width or flex for c in self.columns]
        self._line_width = sum(self._widths) + GAP * (len(self.columns) - 1)
        self.virtual_size = Size(self._line_width, len(self.rows) + 1)
        self.refresh()

    # --- content ------------------------------------------------------------

    def show(self, rows: list[Row]) -> None:
        """Replaces the rows, keeping the order, the filter and (by key) the cursor's row."""
        kept = self.cursor_key
        self._all = rows
        self._arrange(kept)

    def sort_by(self, column: int, reverse: bool | None = None) -> None:
        """Orders by that column; a second call on the same column turns the order round."""
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        self._arrange(self.cursor_key)
        self.post_message(self.Sorted())

    def filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._arrange(self.cursor_key)

    @property
    def cursor_key(self) -> str | None:
        return self.rows[self.cursor].key if 0 <= self.cursor < len(self.rows) else None

    def _arrange(self, keep: str | None) -> None:
        needle = self.filter_text
        shown = [row for row in self._all if needle in row.search] if needle else list(self._all)
        index = self.sort_column

        def key(row: Row) -> tuple[bool, Any]:
            value = row.sort_keys[index]
            return (value is None) != self.sort_reverse, value if value is not None else 0

        if index:  # ties in order of the first column (the service's path, say)
            shown.sort(key=lambda row: row.sort_keys[0])
        shown.sort(key=key, reverse=self.sort_reverse)
        self.rows = shown
        self.virtual_size = Size(self._line_width, len(shown) + 1)
        position = next((n for n, row in enumerate(shown) if row.key == keep), 0) if keep else 0
        self.cursor = min(position, max(len(shown) - 1, 0))
        self._keep_cursor_visible()
        self.refresh()

    # --- drawing ------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            strip = self._header()
        else:
            index = scroll_y + y - 1
            if index >= len(self.rows):
                return Strip.blank(width, self.rich_style)
            style = self.get_component_rich_style("row-list--cursor") if index == self.cursor else None
            strip = self._line(self.rows[index], style)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _header(self) -> Strip:
        style = self.get_component_rich_style("row-list--header")
        texts = []
        for n, column in enumerate(self.columns):
            arrow = (" ↓" if self.sort_reverse else " ↑") if n == self.sort_column else ""
            texts.append(Text(column.title + arrow))
        return self._strip(texts, style)

    def _line(self, row: Row, style: Style | None) -> Strip:
        return self._strip(list(row.texts), style or self.rich_style)

    def _strip(self, texts: list[Text], base: Style) -> Strip:
        segments: list[Segment] = []
        for n, (column, width, text) in enumerate(zip(self.columns, self._widths, texts, strict=True)):
            cell = text.copy()
            if column.keep_end and cell.cell_len > width:
                cell = Text("…", style=cell.style) + cell[cell.cell_len - width + 1 :]
            cell.truncate(width, overflow="ellipsis", pad=True)
            segments.extend(
                Segment(seg.text, base + seg.style if seg.style else base)
                for seg in cell.render(self.app.console)
            )
            if n < len(self.columns) - 1:
                segments.append(Segment(" " * GAP, base))
        return Strip(segments, self._line_width)

    # --- moving -------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()

    def _keep_cursor_visible(self) -> None:
        visible = max(self.size.height - 1, 1)
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(index, len(self.rows) - 1))
        self._keep_cursor_visible()

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, pages: int) -> None:
        self._move_to(self.cursor + pages * max(self.size.height - 2, 1))

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self.rows) - 1)

    def action_choose(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Chosen(self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:  # on the border or a scrollbar
            return
        if offset.y == 0:
            x = offset.x + round(self.scroll_offset.x)
            start = 0
            for n, width in enumerate(self._widths):
                if start <= x < start + width + GAP:
                    self.sort_by(n)
                    return
                start += width + GAP
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self.rows):
            if index == self.cursor and event.chain >= 2:
                self.action_choose()
            self._move_to(index)
