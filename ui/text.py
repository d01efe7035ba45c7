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


def plain(text: object) -> str:
    """Return ``text`` with every Markdown control character backslash-escaped.

    The result renders as exactly the original characters in any Streamlit element that
    interprets Markdown (CommonMark backslash escapes).
    """
    return _SPECIAL.sub(r"\\\1", str(text))
