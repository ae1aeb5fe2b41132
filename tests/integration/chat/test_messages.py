"""Messages over REST: idempotent sends, sequence, history both ways, edits, deletes,
reactions, replies, limits; the events each action publishes and to whom."""

from __future__ import annotations

import asyncio

from tests.helpers.chat import BASE, CHAT_SETTINGS, people, room, send
from tests.helpers.events import events


async def test_send_is_idempotent_per_client_id(client, published):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    first = await client.post(
        f"{BASE}/rooms/{g['id']}/messages",
        json={"message": "once", "client_id": "c-1"},
        headers=ana.headers,
    )
    assert first.status_code == 201
    again = await client.post(
        f"{BASE}/rooms/{g['id']}/messages",
        json={"message": "once (retry)", "client_id": "c-1"},
        headers=ana.headers,
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["client_id"] == "c-1" and first.json()["seq"] == 1
    # another user's identical client_id is their own message
    other = await send(client, ben, g["id"], "mine", client_id="c-1")
    assert other["id"] != first.json()["id"] and other["seq"] == 2
    news = events(published, "chat:new_message")
    assert len(news) == 2
    assert news[0].rooms == (f"chat:{g['id']}",)
    payload = news[0].event.payload()
    assert payload["roomId"] == g["id"] and payload["message"]["text"] == "once"
    assert payload["message"]["client_id"] is None  # only the sender sees their key


async def test_concurrent_twins_with_one_client_id_store_one_message(client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    url = f"{BASE}/rooms/{g['id']}/messages"
    body = {"message": "twin", "client_id": "twin-1"}
    replies = await asyncio.gather(
        *(client.post(url, json=body, headers=ana.headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in replies}) == 1
    history = (await client.get(url, headers=ben.headers)).json()
    assert [m["text"] for m in history["items"]] == ["twin"]


async def test_concurrent_senders_get_distinct_ordered_sequences(client):
    members = await people(client, 4)
    g = await room(client, members[0], "group", *members[1:])

    async def burst(who, n):
        return [await send(client, who, g["id"], f"{who.username} {i}") for i in range(n)]

    results = await asyncio.gather(*(burst(m, 5) for m in members))
    seqs = sorted(m["seq"] for batch in results for m in batch)
    assert seqs == list(range(1, 21))
    for batch in results:  # each sender's own messages keep their order
        assert [m["seq"] for m in batch] == sorted(m["seq"] for m in batch)
    history = (
        await client.get(f"{BASE}/rooms/{g['id']}/messages?limit=100", headers=members[1].headers)
    ).json()
    assert [m["seq"] for m in history["items"]] == list(range(1, 21))


async def test_history_pages_before_after_and_around(client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    sent = [await send(client, ana, g["id"], f"m{i}") for i in range(1, 11)]
    url = f"{BASE}/rooms/{g['id']}/messages"
    newest = (await client.get(f"{url}?limit=4", headers=ben.headers)).json()
    assert [m["text"] for m in newest["items"]] == ["m7", "m8", "m9", "m10"]
    older = (
        await client.get(f"{url}?limit=4&before={newest['before_cursor']}", headers=ben.headers)
    ).json()
    assert [m["text"] for m in older["items"]] == ["m3", "m4", "m5", "m6"]
    oldest = (
        await client.get(f"{url}?limit=4&before={older['before_cursor']}", headers=ben.headers)
    ).json()
    assert [m["text"] for m in oldest["items"]] == ["m1", "m2"] and oldest["before_cursor"] is None
    forward = (
        await client.get(f"{url}?limit=3&after={oldest['after_cursor']}", headers=ben.headers)
    ).json()
    assert [m["text"] for m in forward["items"]] == ["m3", "m4", "m5"]
    around = (await client.get(f"{url}?limit=4&around={sent[4]['id']}", headers=ben.headers)).json()
    assert [m["text"] for m in around["items"]] == ["m3", "m4", "m5", "m6"]
    tail = (await client.get(f"{url}?after={newest['after_cursor']}", headers=ben.headers)).json()
    assert tail["items"] == [] and tail["after_cursor"] == newest["after_cursor"]
    both = await client.get(
        f"{url}?before={older['before_cursor']}&after={older['before_cursor']}", headers=ben.headers
    )
    assert both.status_code == 422
    foreign = await room(client, ben, "group")
    sent_elsewhere = await send(client, ben, foreign["id"], "elsewhere")
    assert (
        await client.get(f"{url}?around={sent_elsewhere['id']}", headers=ben.headers)
    ).status_code == 404


async def test_edit_keeps_history_and_tells_the_room(client, published):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    m = await send(client, ana, g["id"], "frist")
    reply = await client.patch(
        f"{BASE}/messages/{m['id']}", json={"message": "first"}, headers=ana.headers
    )
    assert (
        reply.status_code == 200 and reply.json()["text"] == "first" and reply.json()["edited_at"]
    )
    assert (
        await client.patch(f"{BASE}/messages/{m['id']}", json={"message": "x"}, headers=ben.headers)
    ).status_code == 403
    edits = (await client.get(f"{BASE}/messages/{m['id']}/edits", headers=ben.headers)).json()
    assert [e["text"] for e in edits] == ["frist"]
    updated = events(published, "chat:message_updated")
    assert len(updated) == 1 and updated[0].rooms == (f"chat:{g['id']}",)
    assert updated[0].event.payload()["change"] == "edited"
    assert updated[0].event.payload()["message"]["text"] == "first"


async def test_delete_leaves_a_tombstone_for_everyone(client, published):
    ana, ben, cy = await people(client, 3)
    g = await room(client, ana, "group", ben, cy)
    by_ben = await send(client, ben, g["id"], "oops")
    by_cy = await send(client, cy, g["id"], "by cy")
    await client.post(
        f"{BASE}/messages/{by_ben['id']}/reactions", json={"emoji": "👍"}, headers=cy.headers
    )
    assert (
        await client.delete(f"{BASE}/messages/{by_cy['id']}", headers=ben.headers)
    ).status_code == 403
    tomb = await client.delete(f"{BASE}/messages/{by_ben['id']}", headers=ben.headers)
    assert tomb.status_code == 200
    assert (
        tomb.json()["deleted"] is True
        and tomb.json()["text"] == ""
        and tomb.json()["reactions"] == []
    )
    assert (
        await client.delete(f"{BASE}/messages/{by_cy['id']}", headers=ana.headers)
    ).status_code == 200  # admin
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=cy.headers)).json()
    texts = [(m["seq"], m["deleted"], m["text"]) for m in history["items"] if m["type"] != "system"]
    assert texts == [(1, True, ""), (2, True, "")]
    changes = [d.event.payload()["change"] for d in events(published, "chat:message_updated")]
    assert changes == ["reactions", "deleted", "deleted"]
    again = await client.patch(
        f"{BASE}/messages/{by_ben['id']}", json={"message": "back"}, headers=ben.headers
    )
    assert again.status_code == 404


async def test_reactions_toggle_with_counts_and_who(client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    m = await send(client, ana, g["id"], "react to me")
    url = f"{BASE}/messages/{m['id']}/reactions"
    await client.post(url, json={"emoji": "🎉"}, headers=ana.headers)
    view = (await client.post(url, json={"emoji": "🎉"}, headers=ben.headers)).json()
    assert view["reactions"] == [{"emoji": "🎉", "count": 2, "user_ids": [ana.id, ben.id]}]
    view = (await client.post(url, json={"emoji": "🎉"}, headers=ana.headers)).json()
    assert view["reactions"] == [{"emoji": "🎉", "count": 1, "user_ids": [ben.id]}]
    bad = await client.post(url, json={"emoji": "<b>"}, headers=ana.headers)
    assert bad.status_code == 422


async def test_replies_show_parent_preview_and_stay_in_room(client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    parent = await send(client, ana, g["id"], "what is the plan?")
    reply = await send(client, ben, g["id"], "@" + ana.username + " lunch", replyToId=parent["id"])
    assert reply["reply_to"] == {
        "id": parent["id"],
        "sender_id": ana.id,
        "text": "what is the plan?",
        "deleted": False,
    }
    assert reply["mentions"] == [ana.id]
    other = await room(client, ben, "group")
    elsewhere = await client.post(
        f"{BASE}/rooms/{other['id']}/messages",
        json={"message": "x", "reply_to_id": parent["id"]},
        headers=ben.headers,
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["code"] == "bad_reply"


async def test_text_is_sanitized_and_bounded(client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    url = f"{BASE}/rooms/{g['id']}/messages"
    clean = await send(client, ana, g["id"], '<b>hi</b><img src=x onerror="alert(1)">')
    assert clean["text"] == "<b>hi</b>"
    for text, code in (("<script>only()</script>", "empty_message"), ("x" * 4001, "text_too_long")):
        reply = await client.post(url, json={"message": text}, headers=ana.headers)
        assert reply.status_code == 422 and reply.json()["code"] == code
    assert len((await send(client, ana, g["id"], "y" * 4000))["text"]) == 4000
    for body in (
        {"message": "a", "type": "system"},
        {"message": "a", "extra": 1},
        {"message": "a\x00"},
    ):
        assert (await client.post(url, json=body, headers=ana.headers)).status_code == 422


async def test_per_user_rate_limit_and_slow_mode(make_client):
    async with make_client(**{**CHAT_SETTINGS, "gateway_chat_messages_per_minute": 3}) as client:
        ana, ben = await people(client, 2)
        g = await room(client, ana, "group", ben)
        for i in range(3):
            await send(client, ben, g["id"], f"n{i}")
        limited = await client.post(
            f"{BASE}/rooms/{g['id']}/messages", json={"message": "4th"}, headers=ben.headers
        )
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        reply = await client.patch(
            f"{BASE}/rooms/{g['id']}", json={"slowModeSeconds": 600}, headers=ana.headers
        )
        assert reply.json()["slow_mode_seconds"] == 600
        other = await room(client, ana, "group", ben)
        await client.patch(
            f"{BASE}/rooms/{other['id']}", json={"slow_mode_seconds": 600}, headers=ana.headers
        )
        await send(client, ana, other["id"], "admins are exempt")
        await send(client, ana, other["id"], "still exempt")
        # ben's budget is spent, so use a fresh member for slow mode itself
        (cy,) = await people(client, 1)
        await client.post(
            f"{BASE}/rooms/{other['id']}/members", json={"user_id": cy.id}, headers=ana.headers
        )
        await send(client, cy, other["id"], "first")
        slow = await client.post(
            f"{BASE}/rooms/{other['id']}/messages", json={"message": "second"}, headers=cy.headers
        )
        assert slow.status_code == 429 and slow.json()["code"] == "slow_mode"


def png(size: int = 8) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


async def test_image_messages_go_through_the_media_store(client, published):
    ana, ben, eve = await people(client, 3)
    g = await room(client, ana, "group", ben)
    url = f"{BASE}/rooms/{g['id']}/attachments"
    files = {"file": ("red.png", png(), "application/octet-stream")}
    reply = await client.post(
        url, files=files, data={"caption": "look", "client_id": "img-1"}, headers=ana.headers
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["type"] == "image" and body["text"] == "look"
    assert body["attachment"]["kind"] == "image" and body["attachment"]["thumbnail_url"]
    again = await client.post(url, files=files, data={"client_id": "img-1"}, headers=ana.headers)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    bare = await client.post(url, files=files, headers=ben.headers)
    assert bare.status_code == 201 and bare.json()["text"] == ""
    news = events(published, "chat:new_message")
    assert (
        news[-1].event.payload()["message"]["attachment"]["url"] == bare.json()["attachment"]["url"]
    )
    not_image = await client.post(
        url, files={"file": ("x.bin", b"\x01\x02 binary", "text/plain")}, headers=ana.headers
    )
    assert not_image.status_code == 415
    outsider = await client.post(url, files=files, headers=eve.headers)
    assert outsider.status_code == 404
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ben.headers)).json()
    assert [m["type"] for m in history["items"]] == ["image", "image"]
    gone = await client.delete(f"{BASE}/messages/{body['id']}", headers=ana.headers)
    assert gone.json()["attachment"] is None


async def test_file_messages_are_recognised_by_their_bytes_and_download_only(client):
    ana, ben, eve = await people(client, 3)
    g = await room(client, ana, "group", ben)
    url = f"{BASE}/rooms/{g['id']}/attachments"
    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    reply = await client.post(
        url,
        files={"file": ("../../etc/Quarterly <b>report</b>.exe", pdf, "text/html")},
        data={"caption": "the numbers", "client_id": "f-1"},
        headers=ana.headers,
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    attachment = body["attachment"]
    assert body["type"] == "file" and body["text"] == "the numbers"
    assert attachment["kind"] == "file" and attachment["content_type"] == "application/pdf"
    assert attachment["name"].endswith(".pdf") and "/" not in attachment["name"]
    assert "<" not in attachment["name"] and attachment["size"] == len(pdf)
    served = await client.get(attachment["url"])
    assert served.status_code == 200 and served.content == pdf
    assert served.headers["content-disposition"] == "attachment"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    again = await client.post(
        url,
        files={"file": ("r.pdf", pdf, "application/pdf")},
        data={"client_id": "f-1"},
        headers=ana.headers,
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    docx = await client.post(
        url, files={"file": ("plan.docx", b"PK\x03\x04" + b"\0" * 40, "x/y")}, headers=ben.headers
    )
    assert docx.status_code == 201 and docx.json()["attachment"]["name"] == "plan.docx"
    assert docx.json()["attachment"]["content_type"].endswith("wordprocessingml.document")
    notes = await client.post(
        url,
        files={"file": ("notes.txt", "héllo <script>".encode(), "text/html")},
        headers=ben.headers,
    )
    assert notes.status_code == 201 and notes.json()["attachment"]["content_type"] == "text/plain"
    html = await client.post(
        url,
        files={"file": ("page.html", b"<html><script>x</script>", "text/html")},
        headers=ben.headers,
    )
    assert html.status_code == 415  # markup is never accepted, whatever it is called
    big = await client.post(
        url,
        files={"file": ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), "x")},
        headers=ben.headers,
    )
    assert big.status_code == 413
    outsider = await client.post(url, files={"file": ("r.pdf", pdf, "x")}, headers=eve.headers)
    assert outsider.status_code == 404
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ben.headers)).json()
    assert [m["type"] for m in history["items"]] == ["file", "file", "file"]
    first = await client.get(history["items"][0]["attachment"]["url"])
    assert first.headers["x-content-type-options"] == "nosniff"
