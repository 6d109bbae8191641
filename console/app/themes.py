"""The console's three themes (CLAIMSOPS_THEME / `theme = "light"`, or the palette's Theme
command): every colour on screen comes from one of them (console/app/tone.py)."""

from __future__ import annotations

from textual.theme import Theme

DARK = Theme(
    name="claimsops-dark", dark=True,
    primary="#4C9AFF", secondary="#B48EF0", accent="#4FC1E9",
    warning="#E5C07B", error="#F0626E", success="#6CCB7F",
    foreground="#E0E0E0", background="#101418", surface="#181D23", panel="#222A32",
)
LIGHT = Theme(
    name="claimsops-light", dark=False,
    primary="#0B5CAD", secondary="#7A3DB8", accent="#00798C",
    warning="#9A6700", error="#C62828", success="#1E7B34",
    foreground="#1F2328", background="#FAFAF7", surface="#FFFFFF", panel="#E4E7EB",
)
HIGH_CONTRAST = Theme(
    name="claimsops-high-contrast", dark=True,
    primary="#55AAFF", secondary="#FF77FF", accent="#00FFFF",
    warning="#FFFF00", error="#FF5555", success="#00FF66",
    foreground="#FFFFFF", background="#000000", surface="#000000", panel="#262626",
)
THEMES = {"dark": DARK, "light": LIGHT, "high-contrast": HIGH_CONTRAST}


def theme_name(setting: str) -> str:
    """The Textual theme of a `theme` setting (engine.config.THEMES)."""
    return THEMES.get(setting, DARK).name
