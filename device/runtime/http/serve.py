"""Running the app: verify the model, bind the socket, load in the background, serve with uvicorn.

No click here: `serve()` raises `ServeError` with a message for the user, and `device.cli` turns it
into an exit code. The budget preflight runs in `device.cli` before this is called.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

from device.runtime.bundle import BundleError
from device.runtime.http.app import create_app
from device.runtime.http.limits import guarded_protocol
from device.runtime.http.state import Settings
from device.runtime.matchstore import DEFAULT_KEEP_DAYS, DEFAULT_MAX_MATCHES, default_state_dir
from device.runtime.service import Sampling, resolve_model
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


def writable_state_dir(state_dir=None) -> Path:
    """The match feed's state directory (default: $STATE_DIRECTORY, else ~/.local/state/suksham), checked now."""
    folder = Path(state_dir) if state_dir is not None else default_state_dir()
    try:
        (folder / "matches").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot use {folder} as the state directory ({exc.strerror}); pass --state-dir DIR") from exc
    if not os.access(folder / "matches", os.W_OK):
        raise OSError(f"cannot write to {folder / 'matches'}; pass --state-dir DIR")
    return folder


def bundle_settings(bundle, state_dir, request_timeout: float = 300.0, threads: int | None = None) -> Settings:
    """Settings for serving a verified bundle in this process (`suksham replay --bundle`)."""
    try:
        path, n_ctx, verified, model_id = resolve_model(bundle, None, None)
        sampling = Sampling.from_manifest(verified.manifest if verified else None)
    except (BundleError, ValueError, OSError) as exc:
        raise ServeError(str(exc)) from exc
    return Settings(
        model_path=path,
        model_id=model_id,
        n_ctx=n_ctx,
        threads=threads,
        request_timeout=request_timeout,
        verified=verified is not None,
        state_dir=Path(state_dir),
        sampling=sampling,
    )


@contextlib.contextmanager
def in_process(settings: Settings, ready_timeout: float = 300.0):
    """The app under uvicorn in a thread on a free loopback port; yields its URL once /health says ready.

    What `suksham replay --bundle` feeds: the same app and sockets as `suksham serve`, in this process.
    """
    import urllib.error
    import urllib.request

    import uvicorn

    app = create_app(settings)
    sock = bind_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="suksham-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except urllib.error.HTTPError as exc:
                detail = json.loads(exc.read() or b"{}").get("detail")
                if detail:  # the model failed to load
                    raise ServeError(f"the in-process server could not load the model: {detail}") from None
            except OSError:
                pass
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServeError(f"the in-process server was not ready within {ready_timeout:g} s")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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


def listen(host: str, port: int, ollama_port: int | None = None) -> list[socket.socket]:
    """The listening sockets: `port`, and `ollama_port` too when given (Ollama's clients default to 11434).

    A taken port is a ServeError, never a silent second choice: on a Pi whose playbook also installed
    Ollama, 11434 belongs to that Ollama.
    """
    if ollama_port is not None and ollama_port == port:
        raise ServeError(f"--ollama-port {ollama_port} is the same as --port; give another port or leave it out")
    socks = []
    for option, number in (("--port", port), ("--ollama-port", ollama_port)):
        if number is None:
            continue
        try:
            socks.append(bind_socket(host, number))
        except OSError as exc:
            for sock in socks:
                sock.close()
            hint = " Is Ollama itself running there? Stop it, or leave --ollama-port out." if socks else ""
            raise ServeError(f"cannot listen on {host}:{number} ({option}): {exc}.{hint}") from exc
    return socks


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
    state_dir=None,
    max_matches=None,
    keep_days=None,
    public_live=False,
    read_key_file=None,
    ollama_port=None,
) -> None:
    """`suksham serve`: verify, bind, then load in the background and serve until stopped.

    `resolved` is what `resolve_model` returned, when the caller (the CLI's preflight) already did it.
    """
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        path, n_ctx, _verified_bundle, model_id = resolved or resolve_model(bundle, model, n_ctx)
        api_key = read_api_key(api_key_file)
        sampling = Sampling.from_manifest(_verified_bundle.manifest if _verified_bundle else None)
        read_key = read_api_key(read_key_file)
        state_dir = writable_state_dir(state_dir)
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
        verified=_verified_bundle is not None,  # a bundle whose manifest checked out
        state_dir=state_dir,
        max_matches=max_matches or DEFAULT_MAX_MATCHES,
        keep_days=DEFAULT_KEEP_DAYS if keep_days is None else keep_days,
        public_live=public_live,
        read_key=read_key,
        sampling=sampling,
    )
    socks = listen(host, port, ollama_port)
    for sock in socks:
        actual = sock.getsockname()[1]
        print(f"suksham: listening on http://{host}:{actual} (model {model_id}, loading...)", file=sys.stderr)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level=os.environ.get("SUKSHAM_LOG_LEVEL", "warning"),
        access_log=False,
        timeout_graceful_shutdown=5,
        http=guarded_protocol(app.state.limits),  # header timeout and connection bound (limits.py)
    )
    server, failed = uvicorn.Server(config), []

    def fatal(error: str) -> None:  # the model did not load: exit non-zero, so systemd sees a failure
        failed.append(error)
        server.should_exit = True

    app.state.server.on_fatal = fatal
    server.run(sockets=socks)
    if failed:
        raise ServeError(f"could not load the model: {failed[0]}")
