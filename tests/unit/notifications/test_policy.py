"""Pure notification rules: titles, quiet hours across midnight and DST, digests, tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from townsquare.domains.notifications import policy


def test_actor_texts() -> None:
    assert policy.actors_text([], 1) == "Someone"
    assert policy.actors_text(["Ana"], 1) == "Ana"
    assert policy.actors_text(["Ana", "Ben"], 2) == "Ana and Ben"
    assert policy.actors_text(["Ana", "Ben", "Cy"], 3) == "Ana and 2 others"
    assert policy.actors_text(["Ana"], 2) == "Ana and 1 other"
    spec = policy.TYPES["like"]
    title = policy.render_title(spec, names=["Ana", "Ben", "Cy"], count=4, target="post")
    assert title == "Ana and 3 others liked your post"


def test_quiet_hours_inside_outside_and_across_midnight() -> None:
    night = {"start": 22 * 60, "end": 7 * 60, "timezone": "Europe/Lisbon"}
    # 23:30 Lisbon (winter, UTC+0) is inside; quiet until 07:00 the next morning
    until = policy.quiet_until(datetime(2026, 1, 10, 23, 30, tzinfo=UTC), **night)
    assert until == datetime(2026, 1, 11, 7, 0, tzinfo=UTC)
    # 06:59 inside, 07:00 and noon outside
    assert policy.quiet_until(datetime(2026, 1, 11, 6, 59, tzinfo=UTC), **night) is not None
    assert policy.quiet_until(datetime(2026, 1, 11, 7, 0, tzinfo=UTC), **night) is None
    assert policy.quiet_until(datetime(2026, 1, 11, 12, 0, tzinfo=UTC), **night) is None
    # a daytime window
    day = {"start": 9 * 60, "end": 17 * 60, "timezone": "UTC"}
    assert policy.quiet_until(datetime(2026, 1, 11, 12, 0, tzinfo=UTC), **day) == datetime(
        2026, 1, 11, 17, 0, tzinfo=UTC
    )
    assert policy.quiet_until(datetime(2026, 1, 11, 8, 0, tzinfo=UTC), **day) is None
    # off, and a bad zone name falls back to UTC
    assert (
        policy.quiet_until(
            datetime(2026, 1, 11, 12, 0, tzinfo=UTC), start=None, end=None, timezone="UTC"
        )
        is None
    )
    assert policy.quiet_until(
        datetime(2026, 1, 11, 12, 0, tzinfo=UTC), start=11 * 60, end=13 * 60, timezone="Mars/Base"
    ) == datetime(2026, 1, 11, 13, 0, tzinfo=UTC)


def test_quiet_hours_end_on_local_time_across_a_dst_change() -> None:
    # Lisbon moves from UTC+0 to UTC+1 at 01:00 UTC on 2026-03-29: 07:00 local is 06:00 UTC
    until = policy.quiet_until(
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
        start=22 * 60,
        end=7 * 60,
        timezone="Europe/Lisbon",
    )
    assert until == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_digests_are_due_in_the_local_morning() -> None:
    monday_8_tokyo = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 08:30 Monday in Tokyo
    due = {"timezone": "Asia/Tokyo", "hour": 8}
    assert policy.digest_due(monday_8_tokyo, digest="daily", last_sent=None, **due)
    assert policy.digest_due(monday_8_tokyo, digest="weekly", last_sent=None, **due)
    assert not policy.digest_due(monday_8_tokyo, digest="never", last_sent=None, **due)
    sunday = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
    assert policy.digest_due(sunday, digest="daily", last_sent=None, **due)
    assert not policy.digest_due(sunday, digest="weekly", last_sent=None, **due)
    recent = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert not policy.digest_due(monday_8_tokyo, digest="daily", last_sent=recent, **due)
    afternoon = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert not policy.digest_due(afternoon, digest="daily", last_sent=None, **due)


def test_unsubscribe_tokens_are_signed() -> None:
    token = policy.unsubscribe_token("s" * 32, user_id=42, category="likes")
    assert policy.read_unsubscribe_token("s" * 32, token) == (42, "likes")
    assert policy.read_unsubscribe_token("t" * 32, token) is None
    assert policy.read_unsubscribe_token("s" * 32, token.replace("42.", "43.")) is None
    assert policy.read_unsubscribe_token("s" * 32, "42.nope.sig") is None
    assert policy.read_unsubscribe_token("s" * 32, "garbage") is None
