"""The desktop's number as a picture (a PNG the desktop's session shows as its wallpaper), so
a student sees at a glance which desktop a screen is: made here, sent as an input, no image
tools needed on the desktop."""

from __future__ import annotations

from sclust.desktops.png import rgb_png

# 5x7 digits, one string of 7 rows per digit.
_DIGITS = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
}
BACKGROUND = (0x1D, 0x35, 0x57)  # also the desktop's background colour around the picture
FOREGROUND = (0xF1, 0xFA, 0xEE)
BACKGROUND_HEX = "#" + bytes(BACKGROUND).hex()


def number_png(label: str, dot: int = 24, margin: int = 48) -> bytes:
    """A PNG of LABEL (digits) in big block figures, light on dark."""
    if not label or not label.isdigit() or not label.isascii():
        raise ValueError(f"not a desktop number: {label!r}")
    rows = [""] * 7
    for i, digit in enumerate(label):
        for r, bits in enumerate(_DIGITS[digit].split()):
            rows[r] += ("0" if i else "") + bits
    width = len(rows[0]) * dot + 2 * margin
    height = 7 * dot + 2 * margin
    back, fore = bytes(BACKGROUND), bytes(FOREGROUND)
    blank = back * width
    lines = [blank] * margin
    for bits in rows:
        line = back * margin + b"".join((fore if b == "1" else back) * dot for b in bits) \
            + back * margin
        lines += [line] * dot
    lines += [blank] * margin
    return rgb_png(width, height, b"".join(lines))
