"""The demo: its fictional PDF documents, and `trustcenter demo` (site and gate on localhost with a link)."""
