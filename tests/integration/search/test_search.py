"""Search over posts and users on FTS5 and PostgreSQL full text: matching, filters, privacy."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.posts import post
from tests.helpers.social import befriend


async def found(client, member, path="/api/v1/search/posts", **params):
    headers = member.headers if member else {}
    reply = await client.get(path, headers=headers, params=params)
    assert reply.status_code == 200, reply.text
    return [item.get("text", item.get("username")) for item in reply.json()["items"]]


async def test_post_search_matches_words_and_prefixes(client):
    ana = await register(client, "ana")
    await post(client, ana, "Morning run along the río Douro")
    await post(client, ana, "Evening swim")
    await post(client, ana, "Running late again")
    assert await found(client, ana, q="morning") == ["Morning run along the río Douro"]
    assert await found(client, ana, q="RUN", sort="latest") == [
        "Running late again",
        "Morning run along the río Douro",
    ]
    assert await found(client, ana, q="run douro") == ["Morning run along the río Douro"]
    assert await found(client, ana, q="río") == ["Morning run along the río Douro"]
    assert await found(client, ana, q="rio") == ["Morning run along the río Douro"]
    # search syntax in the query is just text
    assert await found(client, ana, q='swim" OR "run*') == []
    assert await found(client, ana, q="NEAR(swim) AND -x:*") == []
    empty = await client.get("/api/v1/search/posts", params={"q": "!!!"})
    assert empty.status_code == 422


async def test_edits_and_deletes_update_the_index(client):
    ana = await register(client, "ana")
    created = await post(client, ana, "original words")
    await client.patch(
        f"/api/v1/posts/{created['id']}", headers=ana.headers, json={"text": "replacement text"}
    )
    assert await found(client, ana, q="original") == []
    assert await found(client, ana, q="replacement") == ["replacement text"]
    await client.delete(f"/api/v1/posts/{created['id']}", headers=ana.headers)
    assert await found(client, ana, q="replacement") == []


async def test_post_search_respects_privacy_blocks_and_mutes(client):
    author, friend, stranger, blocked, muter = [
        await register(client, n) for n in ("author", "friend", "strange", "blocked", "muter")
    ]
    await befriend(client, author, friend)
    await post(client, author, "zebra public")
    await post(client, author, "zebra friends", privacy="friends")
    await post(client, author, "zebra private", privacy="private")
    await client.put("/api/v1/blocks/author", headers=blocked.headers)
    await client.put("/api/v1/mutes/author", headers=muter.headers)
    assert await found(client, author, q="zebra", sort="latest") == [
        "zebra private",
        "zebra friends",
        "zebra public",
    ]
    assert await found(client, friend, q="zebra", sort="latest") == [
        "zebra friends",
        "zebra public",
    ]
    assert await found(client, stranger, q="zebra") == ["zebra public"]
    assert await found(client, None, q="zebra") == ["zebra public"]
    assert await found(client, blocked, q="zebra") == []
    assert await found(client, muter, q="zebra") == []


async def test_post_search_filters(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await post(client, ana, "pasta night #dinner", type="meal")
    await post(client, ben, "pasta run", type="progress", tags=["dinner"])
    await post(client, ben, "more pasta")
    assert await found(client, ana, q="pasta", type="meal") == ["pasta night #dinner"]
    assert await found(client, ana, q="pasta", author="ben", sort="latest") == [
        "more pasta",
        "pasta run",
    ]
    assert await found(client, ana, tag="#Dinner") == ["pasta run", "pasta night #dinner"]
    assert await found(client, ana, q="pasta", since="2000-01-01T00:00:00Z") != []
    assert await found(client, ana, q="pasta", until="2001-01-01T00:00:00Z") == []
    assert await found(client, ana, q="pasta", author="nobody_at_all") == []
    page = (await client.get("/api/v1/search/posts", params={"q": "pasta", "limit": 2})).json()
    rest = (
        await client.get(
            "/api/v1/search/posts", params={"q": "pasta", "cursor": page["next_cursor"]}
        )
    ).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1
    bad = await client.get("/api/v1/search/posts", params={"q": "x", "type": "poem"})
    assert bad.status_code == 422


async def test_hashtag_page(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await post(client, ana, "#Sketch one")
    await post(client, ben, "two", tags=["sketch"])
    await post(client, ben, "hidden #sketch", privacy="private")
    await post(client, ben, "other #paint")
    assert await found(client, ana, "/api/v1/tags/sketch") == ["two", "#Sketch one"]
    assert await found(client, ana, "/api/v1/tags/%23SKETCH") == ["two", "#Sketch one"]
    assert await found(client, ana, "/api/v1/tags/unused") == []
    assert (await client.get("/api/v1/tags/bad-tag")).status_code == 422


async def test_user_search(client):
    ana = await register(client, "ana_lima")
    await client.patch("/api/v1/users/me", headers=ana.headers, json={"display_name": "Ana Lima"})
    ann = await register(client, "annie")
    await client.patch("/api/v1/users/me", headers=ann.headers, json={"display_name": "Annie Hall"})
    blocker = await register(client, "blocker")
    await client.put("/api/v1/blocks/annie", headers=blocker.headers)
    assert await found(client, ana, "/api/v1/search/users", q="an", sort="latest") == [
        "annie",
        "ana_lima",
    ]
    assert await found(client, ana, "/api/v1/search/users", q="lima") == ["ana_lima"]
    assert await found(client, ana, "/api/v1/search/users", q="hall") == ["annie"]
    assert await found(client, blocker, "/api/v1/search/users", q="an") == ["ana_lima"]
    await client.patch("/api/v1/users/me", headers=ann.headers, json={"display_name": "Zoe"})
    assert await found(client, ana, "/api/v1/search/users", q="hall") == []
    assert (await client.get("/api/v1/search/users", params={"q": "%%"})).status_code == 422
