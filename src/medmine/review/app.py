"""The review web app (Starlette): the page, its JSON API and the images, behind a token.

Every request must carry the per-launch token (``?token=`` in the URL, or the
``X-Review-Token`` header the page sends); without it the answer is 403. Requests whose
``Host`` is not this loopback address are refused too (a page on another site cannot reach
the review through DNS rebinding).
"""

from __future__ import annotations

import hmac
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from medmine.review.media import browser_image
from medmine.review.session import ReviewError, ReviewSession

TOKEN_HEADER = "x-review-token"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


class TokenGuard:
    """ASGI middleware: 403 unless the request carries the token and names a loopback host."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on only when it is allowed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in LOCAL_HOSTS:
            reason = "this review only answers on 127.0.0.1"
        elif not hmac.compare_digest(given.encode(), self.token):
            reason = "missing or wrong review token: open the URL printed by `medmine review`"
        else:
            await self.app(scope, receive, send)
            return
        await Response(reason + "\n", status_code=403, media_type="text/plain")(
            scope, receive, send
        )


def _page() -> str:
    return (resources.files("medmine.review") / "templates" / "review.html").read_text("utf-8")


def build_app(session: ReviewSession, token: str) -> Starlette:
    """The ASGI app serving one review session."""
    page = _page()

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(
            page,
            headers={
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": (
                    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
                    "script-src 'unsafe-inline'; connect-src 'self'"
                ),
            },
        )

    def state(request: Request) -> JSONResponse:
        return JSONResponse(session.state())

    def item(request: Request) -> JSONResponse:
        try:
            return JSONResponse(session.item_payload(int(request.path_params["pos"])))
        except ReviewError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    def image(request: Request) -> Response:
        try:
            _, media = session.media(int(request.path_params["pos"]))
        except ReviewError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        if media.image is None or not media.image.is_file():
            return JSONResponse({"error": media.missing or "no image"}, status_code=404)
        data, media_type = browser_image(media.image)
        return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})

    async def decide(request: Request) -> JSONResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            pos = int(request.path_params["pos"])
            d = session.decide(pos, str(body.get("action")), body.get("value"))
        except ReviewError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "saved": {"action": d.action, "when": d.when, "reviewer": d.reviewer},
                "state": session.state(),
            }
        )

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/item/{pos:int}", item),
        Route("/api/image/{pos:int}", image),
        Route("/api/decide/{pos:int}", decide, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TokenGuard, token=token)])
