"""The brand colour as CSS: Material's colour variables for the site, and the gate's, each adjusted until text in
it meets WCAG AA contrast on light and dark backgrounds."""

from __future__ import annotations


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else float(((value + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    return (int(hex_colour[1:3], 16) / 255, int(hex_colour[3:5], 16) / 255, int(hex_colour[5:7], 16) / 255)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, v)) * 255):02x}" for v in rgb)


def _mix(rgb: tuple[float, float, float], towards: float, amount: float) -> tuple[float, float, float]:
    r, g, b = rgb
    return (r + (towards - r) * amount, g + (towards - g) * amount, b + (towards - b) * amount)


def _until_contrast(rgb: tuple[float, float, float], background: tuple[float, float, float],
                    towards: float, ratio: float = 4.6) -> str:
    for step in range(0, 101, 2):
        candidate = _mix(rgb, towards, step / 100)
        if contrast(candidate, background) >= ratio:
            return _hex(candidate)
    return _hex((towards, towards, towards))


def brand_css(brand_colour: str) -> str:
    """Material colour variables from the brand colour, adjusted for WCAG AA text contrast."""
    white = (1.0, 1.0, 1.0)
    slate_background = _rgb("#1e2129")
    primary = _until_contrast(_rgb(brand_colour), white, 0.0)  # white header text; links on white
    dark_link = _until_contrast(_rgb(brand_colour), slate_background, 1.0)  # links on the dark scheme
    return (
        "/* Generated from company.yaml brand_colour; contrast-adjusted to WCAG AA. */\n"
        ":root, [data-md-color-scheme=\"default\"] {\n"
        f"  --md-primary-fg-color: {primary};\n"
        f"  --md-primary-fg-color--light: {primary};\n"
        f"  --md-primary-fg-color--dark: {_hex(_mix(_rgb(primary), 0.0, 0.2))};\n"
        f"  --md-accent-fg-color: {primary};\n"
        f"  --md-typeset-a-color: {primary};\n"
        f"  --tc-brand: {primary};\n"
        "}\n"
        "[data-md-color-scheme=\"slate\"] {\n"
        f"  --md-primary-fg-color: {primary};\n"
        f"  --md-primary-fg-color--dark: {_hex(_mix(_rgb(primary), 0.0, 0.2))};\n"
        f"  --md-accent-fg-color: {dark_link};\n"
        f"  --md-typeset-a-color: {dark_link};\n"
        f"  --tc-brand: {dark_link};\n"
        "}\n"
    )


def gate_css(brand_colour: str) -> str:
    """The gate's accent colours from the brand colour, contrast-adjusted like the site's (gate.css has defaults)."""
    white = (1.0, 1.0, 1.0)
    dark_page = _rgb("#15181c")
    light = _until_contrast(_rgb(brand_colour), white, 0.0)
    dark = _until_contrast(_rgb(brand_colour), dark_page, 1.0)
    return (
        "/* Generated from company.yaml brand_colour; contrast-adjusted to WCAG AA. */\n"
        f":root {{ --accent: {light}; --accent-text: #ffffff; }}\n"
        f"@media (prefers-color-scheme: dark) {{ :root {{ --accent: {dark}; --accent-text: #0b1a1e; }} }}\n"
    )
