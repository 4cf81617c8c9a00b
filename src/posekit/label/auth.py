"""Access token for the labeling app: every request must carry it.

The token travels in one of three ways:

- the ``token`` query parameter: the URL the server prints. Opening a page this way sets a
  cookie and redirects to the same page without the token, so it does not stay in the
  address bar or the history;
- the cookie ``posekit_<hash>`` (HttpOnly, SameSite=Strict), named after a hash of the token
  so that several servers on one machine do not overwrite each other's cookie;
- the header ``X-Posekit-Token: <token>`` or ``Authorization: Bearer <token>``, for scripts.

A request without a valid token is answered 401 with a JSON message; nothing else runs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGES = ("/", "/label")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
     b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
]


def new_token() -> str:
    """A random URL-safe token (32 bytes of randomness)."""
    return secrets.token_urlsafe(32)


def cookie_name(token: str) -> str:
    """Name of the cookie holding ``token``."""
    return "posekit_" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


def _same(supplied: str | None, token: str) -> bool:
    if not supplied:
        return False
    return secrets.compare_digest(supplied.encode("utf-8", "replace"), token.encode("utf-8"))


class TokenAuth:
    """ASGI middleware that refuses requests without the token and adds security headers.

    Parameters
    ----------
    app : ASGI app
        The app to protect.
    token : str
        The access token.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # websockets are not used
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        query_token = next((v for k, v in query if k == "token"), None)
        if _same(query_token, self.token):
            if scope["method"] == "GET" and scope["path"] in PAGES:
                await self._redirect_with_cookie(scope, query, send)
                return
        elif not any(_same(candidate, self.token) for candidate in self._candidates(headers)):
            await _json(send, 401, "Missing or wrong access token. Open the URL that "
                                   "`posekit label` printed (it ends in ?token=...).")
            return
        await self.app(scope, receive, _with_headers(send))

    def _candidates(self, headers: dict[str, str]) -> list[str | None]:
        bearer = headers.get("authorization", "")
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is the same as none
            cookies = SimpleCookie()
        morsel = cookies.get(self.cookie)
        return [headers.get("x-posekit-token"),
                bearer[7:] if bearer.lower().startswith("bearer ") else None,
                morsel.value if morsel is not None else None]

    async def _redirect_with_cookie(self, scope: Scope, query: list[tuple[str, str]],
                                    send: Send) -> None:
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode("latin-1", "replace")),
                                (b"set-cookie", cookie.encode("latin-1")),
                                (b"cache-control", b"no-store"),
                                (b"content-length", b"0"), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": b""})


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
        await send(message)
    return wrapped


async def _json(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
