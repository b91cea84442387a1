"""The ASGI app (starlette) and the server (uvicorn): limits, timeouts, errors, clean shutdown.

Every request body is read with a size limit (gzip bodies are inflated with the same limit);
every request has a deadline (``--rest_api_timeout_in_ms``); every error is a JSON body
``{"error": "..."}`` with TF Serving's status code. SIGINT/SIGTERM stop accepting connections,
let requests in flight finish, then drain the batchers and close the sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import zlib
from collections.abc import Callable, Coroutine, Iterator
from importlib import resources
from typing import Any

import attrs

from graphrewrite.serve import oip_v2, rest_v1
from graphrewrite.serve.registry import Registry
from graphrewrite.serve.status import ServeError
from graphrewrite.serve.v2_binary import BinaryReply

_log = logging.getLogger("graphrewrite.serve")
_JSON = "application/json"


@attrs.frozen(kw_only=True)
class ServerOptions:
    """Where to listen and the per-request limits."""

    host: str = "127.0.0.1"
    port: int = 8501
    timeout_ms: int = 30_000
    max_body_bytes: int = 64 << 20


def create_app(registry: Registry, options: ServerOptions):  # -> starlette.applications.Starlette
    """The ASGI app serving *registry*: v1, v2 and the try-it page."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    page = resources.files("graphrewrite.serve.page").joinpath("index.html").read_text()

    async def endpoint(request: Request) -> Response:
        path, method = request.url.path, request.method
        if method == "GET" and path in ("/", "/index.html"):
            return HTMLResponse(page)
        try:
            body = await read_body(request, options.max_body_bytes)
            status, text = await asyncio.wait_for(
                _route(method, path, body, registry, run_in_threadpool, request.headers), options.timeout_ms / 1000)
        except ServeError as exc:
            status, text = exc.http_status, _error_body(str(exc))
        except asyncio.TimeoutError:
            status, text = 504, _error_body(f"Request timed out after {options.timeout_ms} ms")
        except Exception as exc:  # a bug must not take the worker down: answer 500 and log it
            _log.exception("internal error on %s %s", method, path)
            status, text = 500, _error_body(f"Internal error: {type(exc).__name__}: {exc}")
        if isinstance(text, BinaryReply):
            return Response(text.body, status_code=status, media_type="application/octet-stream",
                            headers={"Inference-Header-Content-Length": str(text.header_length)})
        return Response(text, status_code=status, media_type=_JSON)

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


async def _route(method: str, path: str, body: bytes, registry: Registry, run_sync, headers) -> tuple[int, str | BinaryReply]:
    lowered = path.lower()
    if lowered.startswith("/v1/"):
        return await rest_v1.handle(method, path, body, registry, run_sync)
    if lowered == "/v2" or lowered.startswith("/v2/"):
        return await oip_v2.handle(method, path, body, registry, run_sync,
                                   header_length=headers.get("inference-header-content-length"))
    if method == "GET" and path == "/page/models":
        import json

        models = [oip_v2.metadata(m.name, m.latest) for m in registry.models.values()]
        return 200, json.dumps({"models": models})
    raise ServeError(f"Malformed request: {method} {path}", "NOT_FOUND")


async def read_body(request, limit: int) -> bytes:
    """The request body, at most *limit* bytes (after gzip inflation); 413 beyond."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ServeError(f"Failed to decompress gzip request body: {exc}") from None
        if len(body) > limit:
            raise _too_large(len(body), limit)
    return body


def _too_large(size: int, limit: int) -> ServeError:
    return ServeError(f"Request body too large: {size} bytes exceeds the limit of {limit} bytes", "PAYLOAD_TOO_LARGE")


def _error_body(message: str) -> str:
    import json

    return json.dumps({"error": message})


def serve(registry: Registry, options: ServerOptions, *, on_ready: Callable[[int], None]) -> None:
    """Run the server until SIGINT/SIGTERM; *on_ready(port)* is called once it accepts requests."""
    import uvicorn

    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle).
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.host, options.port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}", "UNAVAILABLE") from None
    config = uvicorn.Config(create_app(registry, options), log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=max(options.timeout_ms / 1000, 1))
    server = _graceful_server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            on_ready(sock.getsockname()[1])
        await task

    try:
        _run_loop(main(), config)
    finally:
        sock.close()
        registry.close()


def _run_loop(main: Coroutine[Any, Any, None], config: Any) -> None:
    """Run *main* on uvicorn's chosen event loop (uvloop when installed), as ``Server.run`` does."""
    factory = getattr(config, "get_loop_factory", lambda: None)()
    if factory is None or not hasattr(asyncio, "Runner"):  # Python 3.10, or an old uvicorn
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def _graceful_server(config):  # -> uvicorn.Server
    """uvicorn's Server, but its signal handlers stop it gracefully without re-raising the signal
    afterwards (uvicorn does, which would turn a clean SIGTERM shutdown into a -15 exit)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)
