"""The console's colours, all from the theme (console/app/themes.py).

Two ways in, one palette:
- widgets that write one of the console's own messages (an error, a warning, all well) list TONES
  among their component classes and ask `tone(self, name)`; the stylesheet (console.tcss,
  `.tone--error` …) colours them with theme variables;
- text built outside a widget (cells, log lines, status marks) names a semantic style —
  "tone.ok", "tone.error.strong", "tone.muted" … (PALETTE) — which Textual resolves through the
  app's Rich console, where `rich_theme` puts this theme's colours. A theme change recolours both.

With NO_COLOR set, the named styles keep their weight (bold) but no colour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.style import Style
from rich.theme import Theme as RichTheme
from textual.color import Color, ColorParseError
from textual.widget import Widget

TONES = {"tone--error", "tone--warning", "tone--ok"}
Tones = Callable[[str], Style]  # a tone's name -> its style, for text built outside a widget

# semantic colour -> the theme variable it takes its colour from
_COLOURS = {
    "ok": "text-success",       # found, completed, healthy
    "warn": "text-warning",     # waiting, paused, degraded, not found
    "error": "text-error",      # failed, errors, denied
    "info": "text-primary",     # running, in progress
    "accent": "text-accent",    # names: services, actions, keys
    "special": "text-secondary",  # invalid rows, late tasks, a job's own lines
}
# every style name the console's text may use
PALETTE = (
    *(f"tone.{name}{weight}" for name in _COLOURS for weight in ("", ".strong")),
    "tone.muted", "tone.off", "tone.key", "tone.alarm",
)


def tone(node: Widget, name: str) -> Style:
    """The style of tone `name` ("error", "warning", "ok") as `node` is styled."""
    return node.get_component_rich_style(f"tone--{name}", partial=True)


def _hex(variables: Mapping[str, str], name: str) -> Color | None:
    try:
        return Color.parse(variables.get(name, ""))
    except ColorParseError:  # e.g. the ANSI theme's "ansi_default"
        return None


def rich_theme(variables: Mapping[str, str], *, no_color: bool = False) -> RichTheme:
    """The named styles of PALETTE in the colours of a theme's CSS variables."""
    def style(colour: Color | None, *, bold: bool = False, background: Color | None = None) -> Style:
        if no_color:
            return Style(bold=bold or None)
        return Style(color=colour.hex if colour else None, bgcolor=background.hex if background else None,
                     bold=bold or None)

    styles: dict[str, Style] = {}
    for name, variable in _COLOURS.items():
        colour = _hex(variables, variable)
        styles[f"tone.{name}"] = style(colour)
        styles[f"tone.{name}.strong"] = style(colour, bold=True)
    foreground, background = _hex(variables, "foreground"), _hex(variables, "background")
    muted = foreground.blend(background, 0.4) if foreground and background else None
    styles["tone.muted"] = style(muted)
    styles["tone.off"] = style(foreground.blend(background, 0.6) if foreground and background else None)
    styles["tone.key"] = style(_hex(variables, "text-accent"), bold=True)
    error = _hex(variables, "error")
    styles["tone.alarm"] = style(error.get_contrast_text(1.0) if error else None, bold=True, background=error)
    if no_color:
        styles["tone.alarm"] = Style(bold=True, reverse=True)
    return RichTheme(styles, inherit=True)
