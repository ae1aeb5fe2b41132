"""The REST half of the SDK: sign-in, token refresh, and problem+json errors as exceptions."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from townsquare.client.realtime import RealtimeClient, StateCallback


class ApiError(Exception):
    """A refusal from the server, REST or realtime, carrying its stable `code`."""

    def __init__(self, code: str, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.body = body


class TownsquareClient:
    """REST calls with automatic access-token refresh; builds the realtime client."""

    def __init__(
        self,
        api_url: str,
        *,
        gateway_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.gateway_url = (gateway_url or api_url).rstrip("/")
        self._http = http or httpx.AsyncClient(base_url=self.api_url, timeout=30)
        self._owns_http = http is None
        self.access_token = access_token
        self.refresh_token = refresh_token

    async def __aenter__(self) -> TownsquareClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def register(self, username: str, email: str, password: str) -> Any:
        return await self.request(
            "POST",
            "/api/v1/auth/register",
            json={"username": username, "email": email, "password": password},
            auth=False,
        )

    async def login(self, username: str, password: str) -> Any:
        """Sign in and keep the tokens for later calls and for the realtime handshake."""
        body = await self.request(
            "POST",
            "/api/v1/auth/login",
            json={"username": username, "password": password},
            auth=False,
        )
        self.access_token = body["access_token"]
        self.refresh_token = body.get("refresh_token")
        return body

    async def refresh(self) -> str:
        """Trade the refresh token for a new access token (refresh tokens are single-use)."""
        if not self.refresh_token:
            raise ApiError("unauthorized", "No refresh token; sign in again", status=401)
        body = await self.request(
            "POST", "/api/v1/auth/refresh", json={"refresh_token": self.refresh_token}, auth=False
        )
        self.access_token = body["access_token"]
        self.refresh_token = body.get("refresh_token", self.refresh_token)
        return str(self.access_token)

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Any = None, auth: bool = True
    ) -> Any:
        """Call the API; on `token_expired` refresh once and retry; raise ApiError on 4xx/5xx."""
        reply = await self._send(method, path, json=json, params=params, auth=auth)
        if (
            reply.status_code == 401
            and auth
            and self.refresh_token
            and _code(reply) == "token_expired"
        ):
            await self.refresh()
            reply = await self._send(method, path, json=json, params=params, auth=auth)
        if reply.status_code >= 400:
            raise ApiError(
                _code(reply), _detail(reply), status=reply.status_code, body=_json(reply)
            )
        return _json(reply) if reply.content else None

    async def _send(
        self, method: str, path: str, *, json: Any, params: Any, auth: bool
    ) -> httpx.Response:
        headers = (
            {"Authorization": f"Bearer {self.access_token}"} if auth and self.access_token else {}
        )
        return await self._http.request(method, path, json=json, params=params, headers=headers)

    async def token(self) -> str:
        """The current access token (the realtime client asks before every handshake)."""
        if not self.access_token:
            raise ApiError("unauthorized", "Sign in first", status=401)
        return self.access_token

    def realtime(
        self, *, on_state: StateCallback | None = None, transports: list[str] | None = None
    ) -> RealtimeClient:
        """A realtime client that authenticates with this client's tokens, refreshing as needed."""
        from townsquare.client.realtime import RealtimeClient

        return RealtimeClient(
            self.gateway_url,
            token=self.token,
            refresh=self.refresh if self.refresh_token else None,
            on_state=on_state,
            transports=transports,
        )


def _json(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return reply.text


def _code(reply: httpx.Response) -> str:
    body = _json(reply)
    return str(body.get("code", "http_error")) if isinstance(body, dict) else "http_error"


def _detail(reply: httpx.Response) -> str:
    body = _json(reply)
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or reply.reason_phrase)
    return reply.reason_phrase
