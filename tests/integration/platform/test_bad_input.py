"""Every JSON endpoint in the OpenAPI document refuses bad bodies with a 4xx and writes nothing.

Driven by the OpenAPI document, so endpoints added later are covered without listing them here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from tests.helpers.accounts import make_admin
from tests.helpers.app import app_ctx
from townsquare.models import metadata

BAD_BODIES: list[Any] = [[], "text", 12, True]
PATH_IDS = ("{request_id}", "{post_id}", "{comment_id}", "{tag}")


async def database_fingerprint(client) -> str:
    """A digest of every row of every table."""
    digest = hashlib.sha256()
    async with app_ctx(client).db.read() as session:
        for table in metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            for row in sorted(repr(tuple(row)) for row in rows):
                digest.update(row.encode())
    return digest.hexdigest()


def json_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, concrete path, body schema) for each operation taking a JSON body."""
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            concrete = path.replace("{username}", "someone").replace("{session_id}", "1")
            for name in ("{job_id}", "{subscription_id}"):  # notifications and jobs
                concrete = concrete.replace(name, "1")
            for name in ("{room_id}", "{message_id}", "{user_id}"):  # chat
                concrete = concrete.replace(name, "1")
            for name in PATH_IDS:  # social, posts, feed: ids that name nothing
                concrete = concrete.replace(name, "1")
            found.append((method.upper(), concrete, resolve(spec, schema)))
    return found


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return dict(spec["components"]["schemas"][name])
    for option in schema.get("anyOf", []):
        if "$ref" in option:
            return resolve(spec, option)
    return schema


def wrong_type(prop: dict[str, Any]) -> Any:
    kinds = {prop.get("type")} | {o.get("type") for o in prop.get("anyOf", [])}
    if "object" in kinds or "$ref" in json.dumps(prop):
        return 12345
    if kinds & {"string"}:
        return {"nested": ["not", "a", "string"]}
    return "not-the-right-type"


async def test_every_json_endpoint_refuses_bad_bodies(client):
    admin = await make_admin(client)
    spec = (await client.get("/api/v1/openapi.json")).json()
    operations = json_operations(spec)
    assert len(operations) >= 8
    before = await database_fingerprint(client)
    for method, path, schema in operations:
        properties = schema.get("properties", {})
        cases: list[Any] = [*BAD_BODIES, {"surely_unknown_field": 1}]
        cases += [{name: wrong_type(prop)} for name, prop in properties.items()]
        cases += [{name: "x" * 20000} for name, prop in properties.items()]
        for body in cases:
            reply = await client.request(method, path, json=body, headers=admin.headers)
            assert 400 <= reply.status_code < 500, (method, path, body, reply.text)
            assert reply.headers["content-type"].startswith("application/problem+json")
        malformed = await client.request(
            method,
            path,
            content=b'{"unterminated": ',
            headers={**admin.headers, "content-type": "application/json"},
        )
        assert malformed.status_code == 400, (method, path)
    assert await database_fingerprint(client) == before


async def test_every_path_parameter_refuses_junk(client):
    admin = await make_admin(client)
    spec = (await client.get("/api/v1/openapi.json")).json()
    before = await database_fingerprint(client)
    for path, item in spec["paths"].items():
        if "{" not in path:
            continue
        for method in item:
            for junk in ("-1", "0", "9" * 30, "1.5", "%20", "a" * 200):
                concrete = path.replace("{username}", junk).replace("{session_id}", junk)
                for name in ("{job_id}", "{subscription_id}"):  # notifications and jobs
                    concrete = concrete.replace(name, junk)
                for name in ("{room_id}", "{message_id}", "{user_id}"):  # chat
                    concrete = concrete.replace(name, junk)
                for name in PATH_IDS:
                    concrete = concrete.replace(name, junk)
                reply = await client.request(method.upper(), concrete, headers=admin.headers)
                assert 400 <= reply.status_code < 500, (method, concrete, reply.text)
    assert await database_fingerprint(client) == before
