"""Show user-controlled text (asset names, file names, cell contents) as text, never Markdown.

Streamlit renders Markdown in messages, captions and widget labels, including images: a file
or asset named ``![x](http://host/px.png)`` would make every viewer's browser fetch an
outside address. Every piece of text that comes from a file, a file name or a typed value
goes through :func:`plain` before it reaches ``st.info``/``st.caption``/a label.
"""

from __future__ import annotations

import re

# CommonMark's escapable ASCII punctuation, plus "$" (Streamlit renders $...$ as LaTeX) and
# ":" (Streamlit turns :name: into emoji and icons)
_SPECIAL = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
# GitHub-flavoured Markdown links bare URLs ("http://...", "www.") even when escaped: a
# zero-width space after the scheme or "www" keeps them plain text
_AUTOLINK = re.compile(r"(?i)(https?|ftp|www)(?=[:.])")
ZERO_WIDTH_SPACE = "\u200b"


def plain(text: object) -> str:
    """Return ``text`` with every Markdown control character backslash-escaped.

    The result renders as the original characters in any Streamlit element that interprets
    Markdown (CommonMark backslash escapes); bare URLs get a zero-width space after their
    scheme so they are not turned into links.
    """
    text = _AUTOLINK.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, str(text))
    return _SPECIAL.sub(r"\\\1", text)
