"""The storage providers, one row each, keyed by provider name.

Providers change rarely (add, verify, remove), so a refresh rebuilds the rows;
the cursor stays on the provider it was on.
"""

from __future__ import annotations

from textual.coordinate import Coordinate
from textual.widgets import DataTable

from dflow_tui.core.views import ProviderView
from dflow_tui.ui.format import PROVIDER_COLUMNS, Palette, provider_cell


class ProviderTable(DataTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=True,
            cursor_foreground_priority="renderable",
        )
        self._providers: dict[str, ProviderView] = {}
        self._verifying: frozenset[str] = frozenset()
        self.palette = Palette()

    def on_mount(self) -> None:
        for key, label in PROVIDER_COLUMNS:
            self.add_column(label, key=key)
        self.palette = Palette.from_theme_variables(self.app.theme_variables)
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    @property
    def providers(self) -> list[ProviderView]:
        return list(self._providers.values())

    @property
    def selected_provider(self) -> ProviderView | None:
        if not self.row_count:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        try:
            key = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        except Exception:
            return None
        return self._providers.get(key) if key is not None else None

    def show_providers(
        self,
        providers: list[ProviderView],
        verifying: frozenset[str] = frozenset(),
        select: str | None = None,
    ) -> None:
        """Shows exactly `providers`; `select` (a name) moves the cursor onto that one."""
        current = self.selected_provider
        keep = select or (current.name if current else None)
        old_row = self.cursor_row
        self._providers = {provider.name: provider for provider in providers}
        self._verifying = verifying
        with self.app.batch_update():
            self.clear()
            for provider in providers:
                cells = [
                    provider_cell(column, provider, self.palette, verifying=provider.name in verifying)
                    for column, _ in PROVIDER_COLUMNS
                ]
                self.add_row(*cells, key=provider.name)
            if self.row_count:
                row = (
                    self.get_row_index(keep) if keep in self._providers else min(old_row, self.row_count - 1)
                )
                self.move_cursor(row=max(row, 0))

    def _on_theme_changed(self, _theme: object) -> None:
        self.palette = Palette.from_theme_variables(self.app.theme_variables)
        self.show_providers(self.providers, self._verifying)
