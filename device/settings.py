"""Defaults of the device in one place: the port, the context size, the server's limits.

The command line, the server, the engine and the bundle checks read these names; a default that
changes here changes everywhere. Standard library only.
"""

from __future__ import annotations

from importlib import metadata

DEFAULT_PORT = 8222  # `suksham serve`; the units, the playbook and the docs use the same number
DEFAULT_N_CTX = 512  # a commentary prompt is ~60 tokens; a bundle's manifest may say otherwise
MAX_BODY_BYTES = 64 * 1024  # a commentary request is a few hundred bytes; a chat a few KB
MAX_TOKENS_CAP = 256  # replies are five words; this bounds what a chat client can ask for
DEFAULT_QUEUE_SIZE = 8  # requests allowed to wait for the engine; beyond this, 503
DEFAULT_TIMEOUT_S = 30.0  # per request, queueing included
RETRY_AFTER_S = 1  # what a 503 tells the client to wait
HEADER_TIMEOUT_S = 10.0  # a connection must complete its request headers this soon (streams, headers done, are not cut)
MAX_CONNECTIONS = 256  # open at once; beyond it the oldest one still waiting for headers is closed
MAX_STREAMS = 64  # streaming responses (chat SSE, match events, NDJSON) at once, within MAX_CONNECTIONS


def version() -> str:
    """The installed package's version: pyproject.toml is its only home."""
    try:
        return metadata.version("suksham-benaud")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
