"""A QR code drawn with half blocks (two modules per character cell)."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

_DARK = "black"
_LIGHT = "bright_white"


def qr_text(data: str, *, colour: bool) -> Text | None:
    """The QR code of `data` as rich text; None when segno is not installed.

    With `colour`, each cell is "▀" with the upper module as foreground and the lower one as
    background, so the code is dark on light on any terminal theme. Without colour the glyphs draw
    the dark modules alone, which is right on a light background and inverted on a dark one.
    """
    try:
        import segno
    except ImportError:
        return None
    rows = [list(row) for row in segno.make(data, error="m", micro=False).matrix_iter(scale=1, border=2)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    text = Text(no_wrap=True)
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        for upper, lower in zip(top, bottom, strict=True):
            if colour:
                style = Style(color=_DARK if upper else _LIGHT, bgcolor=_DARK if lower else _LIGHT)
                text.append("▀", style=style)
            else:
                text.append("█" if upper and lower else "▀" if upper else "▄" if lower else " ")
        text.append("\n")
    return text
