"""The look of the pages a recipient sees without logging in: unsubscribe, a broken link, a busy server.

They are served to anyone, often from a tracked link in someone's inbox, so they carry no
script, no external asset and no cookie: one inline style under a CSP of `default-src 'none'`.
"""

from __future__ import annotations

from html import escape

STYLE = """
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #f6f8fa; margin: 0; }
  main { max-width: 28rem; margin: 12vh auto 0; padding: 2rem; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; }
  h1 { font-size: 1.35rem; margin: 0 0 .75rem; }
  p { margin: 0 0 1rem; }
  button { font: inherit; padding: .55rem 1.2rem; border: 0; border-radius: 6px; background: #cf222e; color: #fff; cursor: pointer; }
  button:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
  .quiet { color: #59636e; font-size: .9rem; }
  @media (max-width: 30rem) { main { margin: 0; border-radius: 0; border-width: 0 0 1px; } }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def page(page_id: str, title: str, *paragraphs: str) -> bytes:
    """A whole page: its heading is the title; paragraphs are plain text (escaped here).

    >>> b"<h1>Gone</h1>" in page("x", "Gone", "a < b")  and b"<p>a &lt; b</p>" in page("x", "Gone", "a < b")
    True
    """
    body = "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta name="robots" content="noindex">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<main id="{escape(page_id)}">\n<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n'
    ).encode("utf-8")
