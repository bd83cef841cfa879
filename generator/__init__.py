"""Trust center generator: YAML in trust/ to a static site, plus a gate for NDA-only reports."""

__version__ = "0.1.0"
