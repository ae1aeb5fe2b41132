"""User text handling (core.text): sanitizing, hashtags and mentions."""

from __future__ import annotations

import pytest

from townsquare.core.text import find_mentions, find_tags, plain, sanitize


@pytest.mark.parametrize(
    "dirty",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "<svg/onload=alert(1)>",
        '<p style="background:url(javascript:alert(1))">x</p>',
        "<iframe src=//evil></iframe>",
        "<<script>script>alert(1)<</script>/script>",
    ],
)
def test_sanitize_removes_anything_that_runs(dirty):
    clean = sanitize(dirty).lower()
    for bad in ("<script", "onerror", "javascript:", "onload", "<iframe", "style=", "<svg"):
        assert bad not in clean


def test_sanitize_keeps_formatting_and_safe_links():
    clean = sanitize('<b>bold</b> <a href="https://ex.org">link</a>')
    assert "<b>bold</b>" in clean
    assert 'href="https://ex.org"' in clean
    assert "nofollow" in clean
    assert sanitize("5 < 6 & 7 > 3") == "5 &lt; 6 &amp; 7 &gt; 3"
    assert plain(sanitize("5 < 6 & <i>x</i>")).split() == ["5", "<", "6", "&", "x"]


def test_hashtags():
    text = "Ran #10k? no: #Running and #running_club, not a#tag, url.com/#frag, &#39; #日本"
    assert find_tags(text, ["#Fitness", "running"]) == ["fitness", "running", "running_club"]
    assert find_tags("<b>#Bold</b>", []) == ["bold"]


def test_mentions():
    text = "hi @ana_lima and @Ben, mail me at x@example.org, @ab too short, @ana_lima again"
    assert find_mentions(text) == ["ana_lima", "Ben"]
