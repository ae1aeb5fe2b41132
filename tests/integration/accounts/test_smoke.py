async def test_health(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
