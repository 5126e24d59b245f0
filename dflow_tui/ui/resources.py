"""Where the app's stylesheets are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

STYLESHEET = "app.tcss"


def styles_dir() -> Path:
    """The folder holding the .tcss files.

    The wheel ships them as `dflow_tui/styles`; a source checkout keeps them in
    `styles/` at the repository root. The package's own copy wins, so an
    installed app never picks up a stray `styles` folder next to site-packages.
    """
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir / "styles", package_dir.parent / "styles"):
        if (candidate / STYLESHEET).is_file():
            return candidate
    raise FileNotFoundError(
        f"dflow-tui stylesheet {STYLESHEET} not found in {package_dir / 'styles'} "
        f"or {package_dir.parent / 'styles'}"
    )


def stylesheet(name: str = STYLESHEET) -> Path:
    return styles_dir() / name
