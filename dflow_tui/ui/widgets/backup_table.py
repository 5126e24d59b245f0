"""The backup list of one service, refreshed in place by row key.

A RowList: only the lines on screen are drawn, and a row's cells are made the first
time it is drawn. A refresh never rebuilds the table: each backup keeps its row and
gets its new reading; a row on screen whose backup changed has its texts made again and
only its line drawn again (when the order did not change; a row off screen is compared
when it is drawn), rows that went away are removed, new ones added, and the cursor stays
on the backup it was on and the scroll where it was (dolphie's processlist does the
same), so a live refresh every second does not steal the user's place.

A long list is added in slices: the newest rows are on screen at once, and the
rest follow between frames, so keys are answered while 10,000 rows go in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import ClassVar, cast

from rich.text import Text

from dflow_tui.core.views import BackupView, human_size
from dflow_tui.ui.format import BACKUP_COLUMNS, FAILED, Palette, backup_cell
from dflow_tui.ui.widgets.row_list import Column, Row, RowList

FIRST_SLICE = 200  # more rows than any terminal shows
SLICE = 2500
COLUMN_KEYS = tuple(key for key, _ in BACKUP_COLUMNS)

# What the width of each column's cell depends on (one measure per distinct value).
WIDTH_KEYS: dict[str, Callable[[BackupView], Hashable]] = {
    "id": lambda backup: len(str(backup.id)),
    "status": lambda backup: (
        backup.status,
        backup.queued,
        backup.operation_kind,
        backup.operation_status,
        backup.degraded,
    ),
    "trigger": lambda backup: (backup.trigger, backup.schedule_tier),
    "storage": lambda backup: (backup.places, sum(copy.status == FAILED for copy in backup.copies)),
    "size": lambda backup: len(human_size(backup.size_bytes)),
    "created": lambda backup: backup.created_at is None,
}


class BackupRow(Row):
    """A row that knows the backup it shows: the latest reading of it, given at each refresh
    without comparing. Its texts are made from that reading when the row is drawn, and made
    again when the reading they were made from turns out different (compared then: only the
    rows drawn are ever compared, so a refresh costs what the screen shows, not the list)."""

    __slots__ = ("_made_from", "backup", "cells")

    def __init__(self, backup: BackupView, cells: Callable[[BackupView], tuple[Text, ...]]) -> None:
        super().__init__(str(backup.id), (), "", self._make)
        self.backup = backup
        self.cells = cells
        self._made_from: BackupView | None = None

    def _make(self) -> tuple[Text, ...]:
        self._made_from = self.backup
        return self.cells(self.backup)

    @property
    def stale(self) -> bool:
        """Its texts were made from a reading of the backup that differs from the latest."""
        made = self._made_from
        if made is None or made is self.backup or self._texts is None:
            return False
        if made == self.backup:
            self._made_from = self.backup  # read again, unchanged: not compared twice
            return False
        return True

    @property
    def texts(self) -> tuple[Text, ...]:
        if self.stale:
            self.redo()
        return super().texts


class BackupTable(RowList):
    """Rows are keyed by backup id (as a string). `RowList.Highlighted` says the cursor
    moved; `RowList.Chosen` that Enter (or a double click) chose a row."""

    DEFAULT_CSS = """
    BackupTable {
        color: $foreground;
    }
    BackupTable:focus {
        background-tint: $foreground 5%;
    }
    BackupTable:focus > .row-list--header {
        background-tint: $foreground 5%;
    }
    BackupTable > .row-list--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    BackupTable > .row-list--even-row {
        background: $surface-lighten-1 50%;
    }
    BackupTable:dark > .row-list--even-row {
        background: $surface-darken-1 40%;
    }
    BackupTable > .row-list--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    BackupTable:focus > .row-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """

    _columns: ClassVar[tuple[Column, ...]] = tuple(
        Column(key, title, len(title)) for key, title in BACKUP_COLUMNS
    )

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(self._columns, sortable=False, zebra_stripes=True, inset=1, id=id, classes=classes)
        self._by_id: dict[int, BackupRow] = {}
        self._wanted: list[BackupView] = []
        self._filling = False  # more rows are still to be added
        self._fit = [column.width for column in self._columns]  # what the cells need so far
        self._cell_widths: dict[tuple[str, Hashable], int] = {}
        self.palette = Palette()

    def on_mount(self) -> None:
        self._take_palette()
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    # --- reading ---------------------------------------------------------

    @property
    def backups(self) -> list[BackupView]:
        """The backups shown, in screen order."""
        return [row.backup for row in cast("list[BackupRow]", self.rows)]

    @property
    def selected_backup(self) -> BackupView | None:
        """The backup under the cursor, if any."""
        if 0 <= self.cursor < len(self.rows):
            return cast(BackupRow, self.rows[self.cursor]).backup
        return None

    def backup(self, backup_id: int) -> BackupView | None:
        row = self._by_id.get(backup_id)
        return row.backup if row is not None else None

    @property
    def cursor_row(self) -> int:
        return self.cursor

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def get_cell(self, key: str, column: str) -> Text:
        """The text of one cell, as drawn: the row's key (the backup id) and the column's."""
        return self._by_id[int(key)].texts[COLUMN_KEYS.index(column)]

    # --- showing ---------------------------------------------------------

    @property
    def filling(self) -> bool:
        """Rows of the last list shown are still being added."""
        return self._filling

    def show_backups(self, backups: list[BackupView]) -> None:
        """Makes the table show exactly `backups`, in the order given (newest first).
        Up to FIRST_SLICE new rows (SLICE once some are shown) go in now; the rest
        between the next frames."""
        self._wanted = backups
        if not self._filling:
            self._show_slice()

    def _show_slice(self) -> None:
        wanted = self._wanted
        by_id = self._by_id
        before = len(by_id)
        budget = SLICE if by_id else FIRST_SLICE
        rows: list[Row] = []
        kept = 0
        for backup in wanted:
            row = by_id.get(backup.id)
            if row is not None:
                kept += 1
                row.backup = backup  # compared only if it is drawn (BackupRow.stale)
            elif budget:
                budget -= 1
                row = by_id[backup.id] = BackupRow(backup, self._cells)
                self._measure(backup)
            else:
                continue  # the next slice adds it
            rows.append(row)
        if kept < before:  # some went away
            for gone in by_id.keys() - {backup.id for backup in wanted}:
                del by_id[gone]
        self._filling = len(rows) < len(wanted)
        self.set_widths(self._fit)
        self.update_rows(rows)
        # In the same order, only the lines on screen whose backup changed are drawn again.
        self.refresh_rows([row.key for row in cast("list[BackupRow]", self.on_screen) if row.stale])
        if self._filling:
            self.call_after_refresh(self._show_slice)

    def _cells(self, backup: BackupView) -> tuple[Text, ...]:
        palette = self.palette
        texts = tuple(backup_cell(column, backup, palette) for column in COLUMN_KEYS)
        fit = self._fit
        if any(text.cell_len > width for text, width in zip(texts, fit, strict=True)):
            # A changed backup needs a wider column; the texts may be made while the screen
            # is drawn, so the columns are widened just after.
            self._fit = [max(text.cell_len, width) for text, width in zip(texts, fit, strict=True)]
            self.call_later(self.set_widths, self._fit)
        return texts

    def _measure(self, backup: BackupView) -> None:
        """Widens the columns this backup's cells need wider (they never narrow)."""
        fit, known = self._fit, self._cell_widths
        for n, column in enumerate(COLUMN_KEYS):
            key = (column, WIDTH_KEYS[column](backup))
            width = known.get(key)
            if width is None:
                width = known[key] = backup_cell(column, backup, self.palette).cell_len
            if width > fit[n]:
                fit[n] = width

    def move_cursor(self, *, row: int, scroll: bool = True) -> None:
        """Puts the cursor on that line (and scrolls to it, unless told not to)."""
        if scroll:
            self._move_to(row)
        elif self.rows:
            self.cursor = max(0, min(row, len(self.rows) - 1))

    def select_backup(self, backup_id: int) -> None:
        """Puts the cursor on that backup's row (and scrolls to it)."""
        row = self._by_id.get(backup_id)
        if row is not None:
            self._move_to(self.rows.index(row))

    def _take_palette(self) -> None:
        self.palette = Palette.from_theme_variables(self.app.theme_variables)

    def _on_theme_changed(self, _theme: object) -> None:
        self._take_palette()
        for row in self._by_id.values():
            row.redo()  # every badge takes the new colours when next drawn
        self.refresh()
