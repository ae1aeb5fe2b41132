"""User-written text: sanitizing HTML, finding #hashtags and @mentions (posts, comments, chat)."""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {
    "b",
    "i",
    "em",
    "strong",
    "a",
    "br",
    "p",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "blockquote",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
HASHTAG = re.compile(r"(?<![\w&#/])#([A-Za-z][A-Za-z0-9_]{0,49})")
MENTION = re.compile(r"(?<![\w@/.])@([A-Za-z0-9_]{3,30})")
TAG_HTML = re.compile(r"<[^>]*>")


def sanitize(text: str) -> str:
    """Keep a few formatting tags and safe links; everything that could run script goes."""
    return nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    ).strip()


def plain(text: str) -> str:
    """The visible text of sanitized HTML, for parsing and search."""
    return html.unescape(TAG_HTML.sub(" ", text))


def normalize_tag(tag: str) -> str:
    return tag.lstrip("#").lower()


def find_tags(text: str, explicit: list[str]) -> list[str]:
    """Hashtags in the text and those given explicitly, lower-cased, first mention first."""
    found = [normalize_tag(t) for t in explicit] + [m.lower() for m in HASHTAG.findall(plain(text))]
    return list(dict.fromkeys(found))[:30]


def find_mentions(text: str) -> list[str]:
    """Candidate @usernames, in order, each once; resolving them is the caller's job."""
    return list(dict.fromkeys(MENTION.findall(plain(text))))[:50]
