"""Search relevance (bm25 / ts_rank_cd with a little recency), stable relevance pages, the
`latest` order, and accent folding that behaves the same on both backends."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.posts import post
from tests.integration.search.test_search import found

POSTS = "/api/v1/search/posts"
USERS = "/api/v1/search/users"


async def test_most_relevant_first_and_latest_on_request(client):
    ana = await register(client, "ana")
    dense = await post(client, ana, "kayak kayak kayak on the lake")
    await post(client, ana, "nothing to see")
    sparse = await post(
        client,
        ana,
        "a long story about the weekend, the weather, the food, the friends and one kayak",
    )
    assert await found(client, ana, q="kayak") == [dense["text"], sparse["text"]]
    assert await found(client, ana, q="kayak", sort="relevance") == [dense["text"], sparse["text"]]
    assert await found(client, ana, q="kayak", sort="latest") == [sparse["text"], dense["text"]]
    # equal relevance: the newer post first (recency, then id)
    old = await post(client, ana, "tandem ride")
    new = await post(client, ana, "tandem ride")
    reply = await client.get(POSTS, headers=ana.headers, params={"q": "tandem"})
    assert [p["id"] for p in reply.json()["items"]] == [new["id"], old["id"]]
    bad = await client.get(POSTS, headers=ana.headers, params={"q": "kayak", "sort": "best"})
    assert bad.status_code == 422


async def test_relevance_pages_are_stable_while_posts_arrive(client):
    ana = await register(client, "ana")
    for n in range(1, 8):
        await post(client, ana, " ".join(["otter"] * n + ["filler"] * (8 - n)))
    expected = await found(client, ana, q="otter", limit=50)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "otter", "limit": 3, **({"cursor": cursor} if cursor else {})}
        reply = await client.get(POSTS, headers=ana.headers, params=params)
        assert reply.status_code == 200, reply.text
        seen += [p["text"] for p in reply.json()["items"]]
        cursor = reply.json()["next_cursor"]
        # a very relevant new post mid-way neither shifts nor duplicates what follows
        await post(client, ana, "otter otter otter otter otter otter otter otter")
        if cursor is None:
            break
    assert seen == expected
    assert len(seen) == 7


async def test_relevance_cursor_belongs_to_its_search(client):
    ana = await register(client, "ana")
    for _ in range(3):
        await post(client, ana, "heron by the river")
    page = (await client.get(POSTS, headers=ana.headers, params={"q": "heron", "limit": 1})).json()
    cursor = page["next_cursor"]
    assert cursor
    other = await client.get(
        POSTS, headers=ana.headers, params={"q": "river", "limit": 1, "cursor": cursor}
    )
    assert other.status_code == 422 and other.json()["code"] == "invalid_cursor"
    latest = await client.get(
        POSTS, headers=ana.headers, params={"q": "heron", "sort": "latest", "cursor": cursor}
    )
    assert latest.status_code == 422 and latest.json()["code"] == "invalid_cursor"
    ben = await register(client, "ben")  # snapshots are per viewer
    theirs = await client.get(
        POSTS, headers=ben.headers, params={"q": "heron", "limit": 1, "cursor": cursor}
    )
    assert theirs.status_code == 422 and theirs.json()["code"] == "cursor_expired"


async def test_later_relevance_pages_apply_privacy_and_deletes_again(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    texts = [f"lynx {'lynx ' * n}" for n in range(4)]
    created = [await post(client, ana, t) for t in texts]
    page = (await client.get(POSTS, headers=ben.headers, params={"q": "lynx", "limit": 1})).json()
    assert page["items"][0]["id"] == created[-1]["id"]
    await client.delete(f"/api/v1/posts/{created[0]['id']}", headers=ana.headers)
    await client.put("/api/v1/blocks/ana", headers=ben.headers)
    rest = await client.get(
        POSTS, headers=ben.headers, params={"q": "lynx", "cursor": page["next_cursor"]}
    )
    assert rest.status_code == 200 and rest.json()["items"] == []


async def test_accents_fold_the_same_on_both_backends(client):
    ana = await register(client, "ana")
    await client.patch("/api/v1/users/me", headers=ana.headers, json={"display_name": "José Ñúñez"})
    await post(client, ana, "Café com leite em São Paulo")
    await post(client, ana, "plain cafe")
    await post(client, ana, "ÉCOLE Façade Øresund")
    assert sorted(await found(client, ana, q="cafe")) == [
        "Café com leite em São Paulo",
        "plain cafe",
    ]
    assert sorted(await found(client, ana, q="CAFÉ")) == [
        "Café com leite em São Paulo",
        "plain cafe",
    ]
    assert await found(client, ana, q="sao paulo") == ["Café com leite em São Paulo"]
    assert await found(client, ana, q="ecole facade") == ["ÉCOLE Façade Øresund"]
    assert await found(client, ana, USERS, q="jose nunez") == ["ana"]
    assert await found(client, ana, USERS, q="núñ") == ["ana"]


async def test_user_search_exact_username_first_and_pages(client):
    names = ["kim", "kimberly", "kimono", "kimchi_fan", "akim"]
    members = {n: await register(client, n) for n in names}
    await client.patch(
        "/api/v1/users/me", headers=members["akim"].headers, json={"display_name": "Kim Kim"}
    )
    viewer = members["kimono"]
    results = await found(client, viewer, USERS, q="kim")
    assert results[0] == "kim"
    assert set(results) == {"kim", "kimberly", "kimono", "kimchi_fan", "akim"}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "kim", "limit": 2, **({"cursor": cursor} if cursor else {})}
        reply = (await client.get(USERS, headers=viewer.headers, params=params)).json()
        seen += [u["username"] for u in reply["items"]]
        cursor = reply["next_cursor"]
        if cursor is None:
            break
    assert seen == results
    latest = await found(client, viewer, USERS, q="kim", sort="latest")
    assert latest == ["akim", "kimchi_fan", "kimono", "kimberly", "kim"]
