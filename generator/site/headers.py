"""The static site's security headers, and the `_headers` file that carries them to Netlify and Cloudflare Pages."""

from __future__ import annotations

HEADERS_FILE = "_headers"

# The site runs no inline script (Material's scripts are served as files by the theme), loads nothing
# from other hosts, and Material's search runs in a same-origin Web Worker loaded from a URL: 'self'
# everywhere holds, and no blob: worker is needed. (worker-src cannot tell a worker from a service worker;
# the gate refuses `Service-Worker: script` requests, and the gate belongs on its own origin.)
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
])

# The same policy in a <meta> element, for hosts that send no headers (GitHub and GitLab Pages); browsers ignore
# frame-ancestors there (and say so in the console), so it is left out.
META_CONTENT_SECURITY_POLICY = "; ".join(directive for directive in CONTENT_SECURITY_POLICY.split("; ")
                                         if not directive.startswith("frame-ancestors"))

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
}


def headers_file() -> str:
    """`_headers` in the Netlify / Cloudflare Pages format: every path gets the security headers."""
    lines = ["# Security headers for every page and file (Netlify and Cloudflare Pages read this file).", "/*"]
    lines += [f"  {name}: {value}" for name, value in SECURITY_HEADERS.items()]
    return "\n".join(lines) + "\n"
