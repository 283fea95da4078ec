"""Running the app: verify the model, bind the socket, load in the background, serve with uvicorn.

No click here: `serve()` raises `ServeError` with a message for the user, and `device.cli` turns it
into an exit code. The budget preflight runs in `device.cli` before this is called.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
from pathlib import Path

from device.runtime.bundle import BundleError
from device.runtime.http.app import create_app
from device.runtime.http.state import Settings
from device.runtime.service import resolve_model
from device.settings import DEFAULT_PORT, DEFAULT_QUEUE_SIZE, DEFAULT_TIMEOUT_S


class ServeError(RuntimeError):
    """The server cannot start: the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_api_key(path: Path | None) -> str | None:
    if path is None:
        return None
    key = Path(path).read_text(encoding="utf-8").strip()
    if not key:
        raise ValueError(f"the API key file {path} is empty")
    return key


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, with Nagle's algorithm off for every connection it accepts.

    uvicorn writes a response's head and body separately. With Nagle on, the body waits for the
    client to ACK the head, and the client delays that ACK by ~40 ms: every request after the first
    on a keep-alive connection took 44 ms, /health included. asyncio turns Nagle off only for sockets
    made with proto IPPROTO_TCP, and an accepted socket inherits both the proto and (on Linux)
    TCP_NODELAY from this one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(
    *,
    bundle=None,
    model=None,
    host="127.0.0.1",
    port=DEFAULT_PORT,
    api_key_file=None,
    insecure_no_key=False,
    threads=None,
    n_ctx=None,
    queue_size=None,
    request_timeout=None,
    resolved=None,
) -> None:
    """`suksham serve`: verify, bind, then load in the background and serve until stopped.

    `resolved` is what `resolve_model` returned, when the caller (the CLI's preflight) already did it.
    """
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        path, n_ctx, _verified_bundle, model_id = resolved or resolve_model(bundle, model, n_ctx)
        api_key = read_api_key(api_key_file)
    except (BundleError, ValueError, OSError) as exc:
        raise ServeError(str(exc)) from exc
    if model is not None:
        print(f"warning: serving {path} UNVERIFIED: no bundle manifest, no evaluation gate", file=sys.stderr)
    if not api_key and not is_loopback(host) and not insecure_no_key:
        raise ServeError(
            f"listening on {host} (beyond loopback) needs an API key: pass --api-key-file FILE, "
            "or --insecure-no-key to waive it on a trusted network"
        )
    settings = Settings(
        model_path=path,
        model_id=model_id,
        n_ctx=n_ctx,
        threads=threads,
        api_key=api_key,
        queue_size=queue_size or DEFAULT_QUEUE_SIZE,
        request_timeout=request_timeout or DEFAULT_TIMEOUT_S,
        verified=_verified_bundle is not None,
    )  # a bundle whose manifest checked out
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc}") from exc
    actual = sock.getsockname()[1]
    print(f"suksham: listening on http://{host}:{actual} (model {model_id}, loading...)", file=sys.stderr)
    config = uvicorn.Config(
        create_app(settings),
        log_level=os.environ.get("SUKSHAM_LOG_LEVEL", "warning"),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
