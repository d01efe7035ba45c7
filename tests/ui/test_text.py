"""User text is escaped before Streamlit renders Markdown (issue 14)."""

import pytest
from streamlit.testing.v1 import AppTest

from ui.text import ZERO_WIDTH_SPACE, plain


@pytest.mark.parametrize("text", ["![x](http://host/px.png)", "[link](javascript:1)",
                                  "**bold** _it_ `code`", "$x^2$", ":material/home: :smile:",
                                  "<img src=x>", "BTC-USD (2)"])
def test_plain_escapes_every_markdown_control_character(text):
    escaped = plain(text)
    unescaped = escaped.replace("\\", "").replace(ZERO_WIDTH_SPACE, "")
    assert unescaped == text
    for char in "![]()*_`$:<>":
        assert f"\\{char}" in escaped or char not in text


def test_bare_urls_are_not_linked():
    assert "http" + ZERO_WIDTH_SPACE in plain("see http://host/x")
    assert "www" + ZERO_WIDTH_SPACE in plain("www.host.com")


def test_markdown_in_a_message_renders_as_text():
    at = AppTest.from_string(
        "import streamlit as st\nfrom ui.text import plain\n"
        "st.info(plain('![x](http://host/px.png)'))\n")
    at.run()
    assert not at.exception
    assert at.info[0].value == plain("![x](http://host/px.png)")
