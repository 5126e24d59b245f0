"""The backup list of one service, refreshed in place by row key.

A refresh never rebuilds the table: rows that went away are removed, changed
cells are updated one by one, new rows are added, and the cursor stays on the
backup it was on (dolphie's processlist does the same), so a live refresh every
second does not steal the user's place.

A long list is added in slices: the newest rows are on screen at once, and the
rest follow between frames, so keys are answered while 10,000 rows go in.
"""

from __future__ import annotations

from typing import Any

from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from dflow_tui.core.views import BackupView
from dflow_tui.ui.format import BACKUP_COLUMNS, Palette, backup_cell, backup_values

FIRST_SLICE = 200  # more rows than any terminal shows
SLICE = 2500


class BackupTable(DataTable):
    """Rows are keyed by backup id (as a string)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=True,
            # The status badge keeps its own colours on the cursor row.
            cursor_foreground_priority="renderable",
        )
        self._backups: dict[str, BackupView] = {}
        self._values: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._wanted: list[BackupView] = []
        self._filling = False  # more rows are still to be added
        self.palette = Palette()

    def on_mount(self) -> None:
        for key, label in BACKUP_COLUMNS:
            self.add_column(label, key=key)
        self._take_palette()
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    # --- reading ---------------------------------------------------------

    @property
    def backups(self) -> list[BackupView]:
        """The backups shown, in screen order."""
        return [self._backups[key] for key in self._order]

    @property
    def selected_backup(self) -> BackupView | None:
        """The backup under the cursor, if any."""
        key = self._cursor_key()
        return self._backups.get(key) if key is not None else None

    def backup(self, backup_id: int) -> BackupView | None:
        return self._backups.get(str(backup_id))

    def _cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        try:
            return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        except Exception:
            return None

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
        backups = self._wanted
        cursor_key = self._cursor_key()
        cursor_row = self.cursor_row
        wanted = {str(backup.id): backup for backup in backups}
        order = list(wanted)
        budget = SLICE if self._backups else FIRST_SLICE
        with self.app.batch_update():
            for key in [key for key in self._backups if key not in wanted]:
                self.remove_row(key)
                del self._backups[key]
                del self._values[key]
            for key, backup in wanted.items():
                known = self._backups.get(key)
                if known is not None:
                    if known == backup:
                        continue
                    values = backup_values(backup)
                    old = self._values[key]
                    for column, value in values.items():
                        if old.get(column) != value:
                            self._update(key, column, backup_cell(column, backup, self.palette))
                elif budget:
                    budget -= 1
                    values = backup_values(backup)
                    cells = [backup_cell(column, backup, self.palette) for column, _ in BACKUP_COLUMNS]
                    self.add_row(*cells, key=key)
                else:
                    continue  # the next slice adds it
                self._backups[key] = backup
                self._values[key] = values
            self._filling = len(self._backups) < len(wanted)
            if self._filling:
                # Newest first into an empty table is already in order; a final pass sorts.
                self._order = [key for key in order if key in self._backups]
            else:
                if [row.key.value for row in self.ordered_rows] != order:
                    self._sort_to({key: index for index, key in enumerate(order)})
                self._order = order
            self._restore_cursor(cursor_key, cursor_row)
        if self._filling:
            self.call_after_refresh(self._show_slice)

    def _update(self, key: str, column: str, cell) -> None:
        """Widening a column means measuring every row: only when the new cell needs it."""
        width = cell.cell_len if hasattr(cell, "cell_len") else len(str(cell))
        wider = width > self.columns[ColumnKey(column)].content_width
        self.update_cell(key, column, cell, update_width=wider)

    def select_backup(self, backup_id: int) -> None:
        """Puts the cursor on that backup's row (and scrolls to it)."""
        key = str(backup_id)
        if key in self._backups:
            self.move_cursor(row=self.get_row_index(key))

    def _sort_to(self, position: dict[str, int]) -> None:
        # DataTable.sort's key sees cell values only; the ID cell holds the row key.
        self.sort("id", key=lambda cell: position.get(cell.plain.strip(), len(position)))

    def _restore_cursor(self, key: str | None, old_row: int) -> None:
        if not self.row_count:
            return
        if key is not None and key in self._backups:
            row = self.get_row_index(key)
        else:
            row = min(old_row, self.row_count - 1)
        if row != self.cursor_row:
            self.move_cursor(row=row, scroll=False)

    def _take_palette(self) -> None:
        self.palette = Palette.from_theme_variables(self.app.theme_variables)

    def _on_theme_changed(self, _theme: object) -> None:
        self._take_palette()
        backups = self.backups
        self._values = {key: {} for key in self._values}  # every cell differs now
        self.show_backups(backups)
