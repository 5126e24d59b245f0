"""A table that draws only the lines on screen: tens of thousands of rows, sorted and
filtered in memory, cost what a screenful costs to draw.

Textual's DataTable builds every row it is given (about 0.25 ms each); a fleet of
10,000 services would take seconds to open. Here a row is a plain tuple of cells
of sort keys, a search string and a function that makes its cells' texts, called
only when the row is first drawn; `render_line` builds the strip of one visible line.
One header line stays on top; the cursor row is highlighted (a cell's own colours, a
badge's say, stay on it), and `RowList.Highlighted` says when it moves; Enter posts
`RowList.Chosen` with the row's key. Sorting is by any column (`sort_by`, or a click
on its header), filtering by text (`filter`).

A list that keeps its own order (`sortable=False`: newest first, say) is refreshed by
key with `update_rows`: the rows that did not change are the same objects, so only the
lines of the changed ones are drawn again, and the cursor and the scroll stay put.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 2  # columns between cells
LINES_KEPT = 512  # strips of rows drawn lately, kept for the next paint (a few screenfuls)


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

    def redo(self, make_texts: Callable[[], tuple[Text, ...]] | None = None) -> None:
        """The texts are made again (by `make_texts`, if given) the next time the row is drawn."""
        if make_texts is not None:
            self.make_texts = make_texts
        self._texts = None


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
    RowList > .row-list--even-row {
        background: $surface-lighten-1 50%;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-list--header", "row-list--cursor", "row-list--even-row"}
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
        """Enter (or a double click) on a row."""

        def __init__(self, row_list: RowList, key: str) -> None:
            self.row_list = row_list
            self.key = key
            super().__init__()

        @property
        def control(self) -> RowList:
            return self.row_list

    class Highlighted(Message):
        """The cursor is on another row (`key`; None: the list is empty)."""

        def __init__(self, row_list: RowList, key: str | None) -> None:
            self.row_list = row_list
            self.key = key
            super().__init__()

        @property
        def control(self) -> RowList:
            return self.row_list

    class Sorted(Message):
        """The order changed (a header was clicked, say): the owner may say so."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort_column: int = 0,
        sortable: bool = True,
        zebra_stripes: bool = False,
        inset: int = 0,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`sortable=False`: the rows stay in the order given, and a header click does nothing;
        `inset`: blank columns before the first cell of every line, and after the last."""
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self._all: list[Row] = []
        self.rows: list[Row] = []  # what is shown: filtered and sorted
        self.sort_column = sort_column
        self.sortable = sortable
        self.sort_reverse = False
        self.filter_text = ""
        self.zebra_stripes = zebra_stripes
        self.inset = inset
        self._highlighted: tuple[int, str | None] = (0, None)  # the last Highlighted posted
        self._widths = [c.width or FLEX_MIN for c in self.columns]
        self._line_width = 2 * self.inset + sum(self._widths) + GAP * (len(self.columns) - 1)
        self._layout = 0  # counts the changes of widths: a strip drawn before is stale
        self._drawn: LRUCache[Row, tuple[tuple[Text, ...], Style, int, Strip]] = LRUCache(LINES_KEPT)
        self._paint_style: Style | None = None

    def on_resize(self) -> None:
        self._lay_out()

    def set_widths(self, widths: Sequence[int]) -> None:
        """New widths for the columns (0: flexible), to fit what their cells hold now, say."""
        if list(widths) != [column.width for column in self.columns]:
            self.columns = [
                replace(column, width=width) for column, width in zip(self.columns, widths, strict=True)
            ]
            self._lay_out()

    def _lay_out(self) -> None:
        """A flexible column takes the room the others leave on this screen; on a narrow
        one, the room the essential ones leave (the others are reached by scrolling)."""
        width = self.scrollable_content_region.width
        fixed = sum(c.width + GAP for c in self.columns if c.width)
        flex = width - fixed
        if flex < FLEX_MIN * 2:
            flex = max(width - sum(c.width + GAP for c in self.columns if c.width and c.essential), FLEX_MIN)
        self._widths = [c.width or flex for c in self.columns]
        self._line_width = 2 * self.inset + sum(self._widths) + GAP * (len(self.columns) - 1)
        self._layout += 1
        self.virtual_size = Size(self._line_width, len(self.rows) + 1)
        self.refresh()

    # --- content ------------------------------------------------------------

    def show(self, rows: list[Row]) -> None:
        """Replaces the rows, keeping the order, the filter and (by key) the cursor's row."""
        kept = self.cursor_key
        self._all = rows
        self._arrange(kept)

    def update_rows(self, rows: list[Row], changed: Collection[str] = ()) -> None:
        """Shows `rows` where the rows kept from before are the same objects (`Row.redo` made
        the `changed` ones anew). The cursor stays on its row's key (or its line, when that
        row went away) and the scroll where it is; when the order is the one shown, only
        the lines of the `changed` rows on screen are drawn again."""
        if self.sortable or self.filter_text:
            kept = self.cursor_key
            self._all = rows
            self._arrange(kept)
            return
        if rows == self.rows:  # the same Row objects in the same order (Row has no __eq__)
            self._all = rows
            self.refresh_rows(changed)
            return
        old = self.cursor
        current = self.rows[old] if 0 <= old < len(self.rows) else None
        self._all = self.rows = rows
        self.virtual_size = Size(self._line_width, len(rows) + 1)
        if current is None:
            position = 0
        elif old < len(rows) and rows[old] is current:
            position = old
        else:
            try:
                position = rows.index(current)  # by identity: C speed
            except ValueError:  # it went away: the cursor keeps its line
                position = old
        self.cursor = min(position, max(len(rows) - 1, 0))
        self.refresh()

    @property
    def on_screen(self) -> list[Row]:
        """The rows whose lines the screen shows now, top to bottom."""
        top = round(self.scroll_offset.y)
        return self.rows[top : top + max(self.size.height - 1, 0)]

    def refresh_rows(self, keys: Collection[str]) -> None:
        """Draws again the lines of the rows with these keys, as far as they are on screen."""
        if not keys:
            return
        for line, row in enumerate(self.on_screen, start=1):
            if row.key in keys:
                self.refresh(Region(0, line, self.size.width, 1))

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

        if self.sortable:
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

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's own style costs a walk up the DOM: once per paint, not once per line.
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._paint_style or self.rich_style
        if y == 0:
            style = self.get_component_rich_style("row-list--header")
            strip = self._header(style)
        else:
            index = scroll_y + y - 1
            if index >= len(self.rows):
                return Strip.blank(width, base)
            if index == self.cursor:
                style = self.get_component_rich_style("row-list--cursor")
            elif self.zebra_stripes and not index % 2:  # the first row is row 0: even
                style = self.get_component_rich_style("row-list--even-row")
            else:
                style = base
            strip = self._line(self.rows[index], style, cursor=index == self.cursor)
        # The header's, the cursor's or the stripe's background goes on to the right edge.
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def _header(self, style: Style) -> Strip:
        texts = []
        for n, column in enumerate(self.columns):
            sorted_here = self.sortable and n == self.sort_column
            arrow = (" ↓" if self.sort_reverse else " ↑") if sorted_here else ""
            texts.append(Text(column.title + arrow))
        return self._strip(texts, style)

    def _line(self, row: Row, style: Style, cursor: bool = False) -> Strip:
        """A row's strip, drawn again only when its texts, its style or the widths changed."""
        texts = row.texts
        drawn = self._drawn.get(row)
        if drawn is not None and drawn[0] is texts and drawn[1] == style and drawn[2] == self._layout:
            return drawn[3]
        strip = self._strip(list(texts), style, cursor)
        self._drawn.set(row, (texts, style, self._layout, strip))
        return strip

    def _strip(self, texts: list[Text], base: Style, cursor: bool = False) -> Strip:
        """One line: each cell in its column's width, over `base`. A cell's own style covers
        its text, not the room left in the column. On the cursor's line a badge (a text with
        its own background) keeps its colours; a coloured word takes the cursor's colour,
        which it might not stand out from."""
        console = self.app.console

        def own(style: Style | str) -> Style:
            style = console.get_style(style)
            return style.without_color if cursor and style.bgcolor is None else style

        segments: list[Segment] = [Segment(" " * self.inset, base)] if self.inset else []
        for n, (column, width, text) in enumerate(zip(self.columns, self._widths, texts, strict=True)):
            cell = text
            if cell.cell_len > width:
                if column.keep_end:
                    cell = Text("…", style=cell.style) + cell[cell.cell_len - width + 1 :]
                else:
                    cell = cell.copy()
                    cell.truncate(width, overflow="ellipsis")
            inner = base + own(cell.style) if cell.style else base
            room = width - cell.cell_len
            before = room if cell.justify == "right" else 0
            if before:
                segments.append(Segment(" " * before, base))
            segments.extend(
                Segment(seg.text, inner + own(seg.style) if seg.style else inner)
                for seg in cell.render(console)
            )
            if room > before:
                segments.append(Segment(" " * (room - before), base))
            if n < len(self.columns) - 1:
                segments.append(Segment(" " * GAP, base))
        if self.inset:
            segments.append(Segment(" " * self.inset, base))
        return Strip(list(Segment.simplify(segments)), self._line_width)  # one run per style: fewer to draw

    # --- moving -------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        """Draws again the two lines the cursor left and reached, and says where it is now."""
        top = round(self.scroll_offset.y)
        for index in {old, new}:
            self.refresh(Region(0, index - top + 1, self.size.width, 1))
        highlighted = (new, self.cursor_key)
        if highlighted != self._highlighted:
            self._highlighted = highlighted
            self.post_message(self.Highlighted(self, highlighted[1]))

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
            self.post_message(self.Chosen(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:  # on the border or a scrollbar
            return
        if offset.y == 0:
            if not self.sortable:
                return
            x = offset.x + round(self.scroll_offset.x)
            start = self.inset
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
