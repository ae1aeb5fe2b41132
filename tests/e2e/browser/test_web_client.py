"""The web client in real Chromium against a real server: two people, live, offline, private."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import PASSWORD, People, Server

pytestmark = pytest.mark.xdist_group("browser")

# notes the moment the "new posts" bar appears, to time a post from one browser to the other
WATCH_NEW_POSTS = """() => {
  window.__arrivedAt = 0;
  const seen = () => document.querySelector('[data-testid="new-posts"]');
  new MutationObserver((_, obs) => {
    if (seen()) { window.__arrivedAt = Date.now(); obs.disconnect(); }
  }).observe(document.body, { childList: true, subtree: true });
}"""

OUTBOX = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("townsquare");
  req.onsuccess = () => {
    const all = req.result.transaction("outbox").objectStore("outbox").getAll();
    all.onsuccess = () => resolve(all.result);
    all.onerror = () => reject(all.error);
  };
  req.onerror = () => reject(req.error);
})"""


def sign_in_through_the_form(page: Page, username: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".conn-dot.connected")).to_be_visible()


def test_sign_up_post_and_see_it_live_in_another_browser(server: Server, people: People) -> None:
    ana_page = people.open(path="/")
    ana_page.get_by_role("button", name="Create an account").click()
    ana_name = f"ana_{uuid.uuid4().hex[:8]}"
    ana_page.get_by_label("Username").fill(ana_name)
    ana_page.get_by_label("Email").fill(f"{ana_name}@example.org")
    ana_page.get_by_label("Password").fill(PASSWORD)
    ana_page.get_by_role("button", name="Sign up").click()
    expect(ana_page.locator(".conn-dot.connected")).to_be_visible()
    ana_page.screenshot(path=people.shots / "feed-empty.png")

    ben = server.register("ben")
    ana_tokens = server.login(ana_name)
    follow = server.http.put(
        f"/api/v1/following/{ana_name}",
        headers={"Authorization": f"Bearer {ben.tokens['access_token']}"},
    )
    assert follow.status_code == 204
    ben_page = people.open(ben)
    ben_page.evaluate(WATCH_NEW_POSTS)

    text = f"Morning run done #running {uuid.uuid4().hex[:6]}"
    ana_page.get_by_label("What's happening?").fill(text)
    sent_at = ana_page.evaluate(
        "() => { const t = Date.now();"
        " document.querySelector('form.composer button.primary').click(); return t; }"
    )
    arrived_at = ben_page.wait_for_function("() => window.__arrivedAt").json_value()
    print(f"\nlive post latency (browser to browser): {arrived_at - sent_at} ms")
    expect(ana_page.locator("article.post").filter(has_text=text)).to_be_visible()

    ben_page.get_by_test_id("new-posts").click()
    card = ben_page.locator("article.post").filter(has_text=text)
    expect(card).to_be_visible()
    expect(card.get_by_role("link", name="#running").first).to_be_visible()

    card.get_by_role("button", name="Like").click()
    ana_card = ana_page.locator("article.post").filter(has_text=text)
    expect(ana_card.get_by_test_id("likes")).to_have_text("1")  # feed:likes, live

    card.get_by_role("link", name="Comments: 0").click()
    ben_page.get_by_label("Write a comment").fill("Nice pace!")
    ben_page.get_by_role("button", name="Send").click()
    expect(ben_page.locator(".comment").filter(has_text="Nice pace!")).to_be_visible()
    expect(ana_card.get_by_test_id("comments")).to_have_text("1")  # feed:new_comment, live
    assert ana_tokens["access_token"]

    ana_page.get_by_role("link", name="Notifications").first.click()
    expect(ana_page.locator(".notifications li").first).to_be_visible()
    ana_page.screenshot(path=people.shots / "notifications.png")


def test_chat_typing_and_read_receipts(server: Server, people: People) -> None:
    ana, ben = server.register("ana"), server.register("ben")
    server.befriend(ana, ben)
    room = server.http.post(
        "/api/v1/realtime/chat/rooms",
        json={"type": "direct", "member_ids": [ben.id]},
        headers=ana.headers,
    )
    assert room.status_code in (200, 201), room.text
    path = f"/chat/{room.json()['id']}"
    ana_page, ben_page = people.open(ana, path=path), people.open(ben, path=path)
    expect(ana_page.get_by_label("Message")).to_be_visible()
    expect(ben_page.get_by_label("Message")).to_be_visible()

    ben_page.get_by_label("Message").press_sequentially("Hi Ana", delay=20)
    expect(ana_page.get_by_test_id("typing")).to_contain_text("is typing")
    ben_page.get_by_role("button", name="Send").click()
    expect(ana_page.locator(".message").filter(has_text="Hi Ana")).to_be_visible()
    expect(ana_page.get_by_test_id("typing")).to_have_count(0)
    # Ana has the room open, so she reads it; Ben sees the receipt
    expect(ben_page.get_by_test_id("seen")).to_contain_text("Seen by")
    ana_page.get_by_label("Message").fill("Hello Ben!")
    ana_page.get_by_role("button", name="Send").click()
    expect(ben_page.locator(".message").filter(has_text="Hello Ben!")).to_be_visible()
    expect(ana_page.get_by_test_id("seen")).to_contain_text("Seen by")
    ana_page.screenshot(path=people.shots / "chat.png")


def test_offline_writes_are_sent_once_on_reconnect(server: Server, people: People) -> None:
    ana, ben = server.register("ana"), server.register("ben")
    server.befriend(ana, ben)
    ana_page = people.open(ana)
    ben_page = people.open(ben)

    ana_page.context.set_offline(True)
    expect(ana_page.locator("[data-connection=offline]")).to_be_visible()
    text = f"Written on the train {uuid.uuid4().hex[:6]}"
    ana_page.get_by_label("What's happening?").fill(text)
    ana_page.locator("form.composer button.primary").click()
    expect(ana_page.locator("article.post.pending").filter(has_text=text)).to_be_visible()
    expect(ana_page.get_by_test_id("queued")).to_have_text("1 waiting to send")
    stored = ana_page.evaluate(OUTBOX)  # kept in IndexedDB, so a closed tab loses nothing
    assert [(i["kind"], i["payload"]["body"]["text"]) for i in stored] == [("post", text)]

    ana_page.context.set_offline(False)
    expect(ana_page.locator(".conn-dot.connected")).to_be_visible()
    expect(ana_page.get_by_test_id("queued")).to_have_count(0)
    assert ana_page.evaluate(OUTBOX) == []
    ben_page.get_by_test_id("new-posts").click()
    expect(ben_page.locator("article.post").filter(has_text=text)).to_have_count(1)
    posts = server.http.get(f"/api/v1/users/{ana.username}/posts", headers=ana.headers).json()
    assert [p["text"] for p in posts["items"]] == [text]  # sent exactly once


def test_friends_only_post_is_invisible_to_a_stranger(server: Server, people: People) -> None:
    ana, friend, stranger = (server.register(n) for n in ("ana", "fay", "sam"))
    server.befriend(ana, friend)
    ana_page = people.open(ana)
    text = f"Only for friends {uuid.uuid4().hex[:6]}"
    ana_page.get_by_label("What's happening?").fill(text)
    ana_page.get_by_label("Who can see this").select_option("friends")
    ana_page.locator("form.composer button.primary").click()
    card = ana_page.locator("article.post").filter(has_text=text)
    expect(card.get_by_role("img", name="Friends only")).to_be_visible()
    post_id = card.get_attribute("data-post-id")

    friend_page = people.open(friend, path=f"/u/{ana.username}")
    expect(friend_page.locator("article.post").filter(has_text=text)).to_be_visible()

    stranger_page = people.open(stranger, path=f"/u/{ana.username}", phone=True)
    expect(stranger_page.get_by_text("No posts you can see yet.")).to_be_visible()
    expect(stranger_page.get_by_text(text)).to_have_count(0)
    stranger_page.screenshot(path=people.shots / "profile-phone.png")
    stranger_page.goto(f"/posts/{post_id}")
    expect(stranger_page.get_by_role("heading", name="Post not available")).to_be_visible()
    expect(stranger_page.get_by_text(text)).to_have_count(0)
    as_stranger = server.http.get(f"/api/v1/posts/{post_id}", headers=stranger.headers)
    assert as_stranger.status_code == 404


def test_sign_out_and_back_in(server: Server, people: People) -> None:
    ana = server.register("ana")
    page = people.open(ana, path="/settings")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in_through_the_form(page, ana.username)
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()  # back where they were
    signed_out = server.http.get("/api/v1/users/me", headers=ana.headers)
    assert signed_out.status_code == 401  # signing out ended the browser's first session
    fresh = {"Authorization": f"Bearer {server.login(ana.username)['access_token']}"}
    sessions = server.http.get("/api/v1/auth/sessions", headers=fresh).json()
    assert len(sessions) == 2  # the browser's new session and this one
