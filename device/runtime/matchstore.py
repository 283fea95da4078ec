"""Durable, bounded storage of the matches a server is fed, and a fan-out of their events for live pages.

Each match is one JSONL file under ``<state_dir>/matches/``: the first line is the match (its ``match_id`` and
Cricsheet ``info``), then one line per fed delivery (corrections are appended too, and win on replay) and one
per commentary reply. Every line is fsynced before the call returns, so after a kill -9 or a power cut the match
is rebuilt from its file with nothing lost and nothing counted twice; a torn last line is dropped (and cut off
the file) with a warning.

At most ``max_matches`` matches are held in memory; the least recently fed one is dropped first and reloaded
from its file on demand. Files older than ``keep_days`` go, then the oldest until the folder fits ``max_bytes``,
so an SD card never fills. Standard library only; every public method takes the store's lock, as the server
runs handlers concurrently.

    store = MatchStore(default_state_dir())
    match_id, created = store.register(info)                 # 409-style MatchConflict on different info
    result = store.feed(match_id, 1, 0, 0, delivery, team="England")
    if result.status == "duplicate":
        reply = store.wait_reply(match_id, 1, 0, 0, timeout=30)   # the same reply as the first time
    store.record_reply(match_id, 1, 0, 0, {"text": "Lovely shot.", "silent": False, "latency_ms": 412})
    with store.subscribe(match_id) as sub:                   # an SSE route: one queue per client
        event = sub.get(timeout=15)                          # None on timeout: send a keep-alive comment
    StreamingResponse(store.subscribe(match_id).frames(), media_type="text/event-stream")   # or all of that
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from device.commentary.match import BallResult, DeliveryError, Match, MatchError, PositionError

log = logging.getLogger(__name__)

DEFAULT_MAX_MATCHES = 16
DEFAULT_KEEP_DAYS = 30
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
SUBSCRIBER_QUEUE = 256  # events a slow client may lag behind before it loses the oldest
KEEPALIVE_S = 15.0  # an SSE comment this often keeps idle-connection limits (issue 14) off a quiet stream
KEEPALIVE_FRAME = ": keep-alive\n\n"
_WAKE = object()  # put by close() so that a blocked get() returns
MATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
LINE_KEYS = ("innings", "over", "index", "text", "silent", "latency_ms")

__all__ = [
    "DEFAULT_KEEP_DAYS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MATCHES",
    "BallResult",
    "DeliveryError",
    "InvalidMatchId",
    "MatchConflict",
    "MatchError",
    "MatchNotFound",
    "MatchStore",
    "PositionError",
    "StorageError",
    "StoreError",
    "Subscription",
    "default_state_dir",
    "new_match_id",
    "sse_frame",
]


class StoreError(Exception):
    """A match store problem; the subclasses say which (and which HTTP status fits)."""


class MatchNotFound(StoreError):
    """No match with that id (a 404)."""


class MatchConflict(StoreError):
    """The match id is taken by a match with different info (a 409)."""


class InvalidMatchId(StoreError):
    """A match id or info that cannot be stored (a 422)."""


class StorageError(StoreError):
    """The state directory could not be written (a 503: the delivery was not taken)."""


def default_state_dir() -> Path:
    """``$STATE_DIRECTORY`` (systemd's StateDirectory=, the first if it lists several), else ~/.local/state/suksham."""
    env = os.environ.get("STATE_DIRECTORY", "").split(":")[0].strip()
    return Path(env) if env else Path.home() / ".local" / "state" / "suksham"


def new_match_id(info: dict | None = None) -> str:
    """A short URL-safe id from the teams, the first date and some randomness.

    For example ``england-v-new-zealand-2019-07-14-3fa9c1``.
    """
    info = info or {}
    parts = []
    teams = info.get("teams")
    if isinstance(teams, list) and teams and all(isinstance(t, str) for t in teams):
        parts.append("-v-".join(teams))
    dates = info.get("dates")
    if isinstance(dates, list) and dates and isinstance(dates[0], str):
        parts.append(dates[0])
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join(parts).lower()).strip("-")[:48].strip("-") or "match"
    return f"{slug}-{secrets.token_hex(3)}"


def _check_id(match_id) -> str:
    if not isinstance(match_id, str) or not MATCH_ID.match(match_id):
        raise InvalidMatchId(
            f"match_id must be 1-80 letters, digits, '-' or '_' (starting with a letter or digit), got {match_id!r}"
        )
    return match_id


def _jsonable(info) -> dict:
    if info is None:
        return {}
    if not isinstance(info, dict):
        raise InvalidMatchId(f"info must be a JSON object (Cricsheet's info), got {type(info).__name__}")
    try:
        return json.loads(json.dumps(info))
    except (TypeError, ValueError) as exc:
        raise InvalidMatchId(f"info is not plain JSON: {exc}") from exc


def sse_frame(event: dict) -> str:
    """One server-sent event as the live page reads it: ``event: <type>`` and the event as JSON."""
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


class Subscription:
    """One live client's queue of match events (``{"type": "ball"|"line"|"deleted", ...}``)."""

    def __init__(self, store: MatchStore, match_id: str, maxsize: int = SUBSCRIBER_QUEUE):
        self.match_id = match_id
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.closed = False
        self._store = store

    def put(self, event) -> None:
        """Never blocks the feed: a full queue loses its oldest event."""
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()

    def get(self, timeout: float | None = None) -> dict | None:
        """The next event, or None after ``timeout`` seconds without one (time for a keep-alive) or once closed."""
        if self.closed:
            return None
        try:
            event = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if event is _WAKE else event

    def frames(self, keepalive: float = KEEPALIVE_S) -> Iterator[str]:
        """SSE text for a streaming response: a frame per event, a comment after ``keepalive`` s of quiet.

        Ends after a "deleted" event or once the subscription is closed, and closes it when the consumer stops
        (starlette's ``StreamingResponse(sub.frames(), media_type="text/event-stream")`` iterates it in a thread).
        """
        try:
            while not self.closed:
                event = self.get(timeout=keepalive)
                if event is None:
                    if not self.closed:
                        yield KEEPALIVE_FRAME
                    continue
                yield sse_frame(event)
                if event.get("type") == "deleted":
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Stop this client's queue; a ``get`` blocked in another thread returns at once."""
        if not self.closed:
            self.closed = True
            self.put(_WAKE)
            self._store._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Entry:
    """A match held in memory: its state, its open file and its replies by position."""

    def __init__(self, match: Match, path: Path, created: float):
        self.match = match
        self.path = path
        self.created = created
        self.replies: dict[tuple, dict] = {}
        self.file = open(path, "ab")  # noqa: SIM115 (held open while the match is in memory)

    def append(self, record: dict) -> None:
        self.file.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


class MatchStore:
    """The matches a server holds: durable under ``state_dir``, at most ``max_matches`` in memory."""

    def __init__(
        self,
        state_dir: str | os.PathLike,
        max_matches: int = DEFAULT_MAX_MATCHES,
        keep_days: float = DEFAULT_KEEP_DAYS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        if max_matches < 1:
            raise ValueError(f"max_matches must be at least 1, got {max_matches}")
        self.folder = Path(state_dir) / "matches"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_matches = max_matches
        self.keep_days = keep_days
        self.max_bytes = max_bytes
        self._lock = threading.RLock()
        self._replied = threading.Condition(self._lock)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # least recently fed first
        self._subscribers: dict[str, set[Subscription]] = {}
        self._listing: dict[str, tuple] = {}  # path -> ((mtime_ns, size), header, deliveries) for list_matches
        self.deliveries_fed = 0
        self.corrections = 0
        self.duplicates = 0
        self.prune()

    # ------------------------------------------------------------------ files

    def _path(self, match_id: str) -> Path:
        return self.folder / f"{match_id}.jsonl"

    def _create(self, match_id: str, info: dict) -> bool:
        """Write the header to a temporary file and link it into place: the file exists whole or not at all."""
        header = {"type": "match", "match_id": match_id, "info": info, "created": time.time()}
        tmp = self.folder / f".{match_id}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, self._path(match_id))
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StorageError(f"cannot create the match file in {self.folder}: {exc}") from exc
        return True

    def _read(self, path: Path) -> tuple[dict, list[dict]]:
        """The header and the records of a match file; a torn last line is cut off, a bad middle line skipped."""
        data = path.read_bytes()
        lines = data.split(b"\n")
        header, records, offset, keep = None, [], 0, len(data)
        for n, raw in enumerate(lines):
            start, offset = offset, offset + len(raw) + 1
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise TypeError("not an object")
            except (TypeError, ValueError):
                last = all(not rest.strip() for rest in lines[n + 1 :])
                if last:
                    log.warning("%s: dropping a torn last line (%d bytes)", path, len(raw))
                    keep = start
                    break
                log.warning("%s: skipping corrupt line %d", path, n + 1)
                continue
            if header is None:
                if record.get("type") != "match":
                    raise StoreError(f"{path} does not start with a match line")
                header = record
            else:
                records.append(record)
        if header is None:
            raise StoreError(f"{path} has no match line")
        if keep < len(data) or (data and not data.endswith(b"\n")):
            with open(path, "r+b") as f:  # so that the next append starts a line of its own
                f.truncate(keep)
                if keep and data[keep - 1 : keep] != b"\n":
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
        return header, records

    def _load(self, match_id: str) -> _Entry:
        path = self._path(match_id)
        if not path.exists():
            raise MatchNotFound(f"no match {match_id!r}; register it with POST /v1/matches first")
        try:
            header, records = self._read(path)
        except StoreError as exc:
            bad = path.with_suffix(".corrupt")
            log.warning("%s; moved aside to %s", exc, bad.name)
            path.replace(bad)
            raise MatchNotFound(f"match {match_id!r} could not be read back ({exc})") from exc
        match = Match(header.get("info") or {}, match_id=match_id)
        entry = _Entry(match, path, header.get("created", path.stat().st_mtime))
        for record in records:
            pos = (record.get("innings"), record.get("over"), record.get("index"))
            try:
                if record.get("type") == "delivery":
                    result = match.feed(
                        *pos, record.get("delivery"), team=record.get("team"), super_over=bool(record.get("super_over"))
                    )
                    if result.status == "correction":
                        entry.replies.pop(pos, None)
                elif record.get("type") == "reply" and isinstance(record.get("reply"), dict):
                    entry.replies[pos] = record["reply"]
            except MatchError as exc:
                log.warning("%s: skipping a record that does not fit the match (%s)", path, exc)
        self._hold(match_id, entry)
        return entry

    def _hold(self, match_id: str, entry: _Entry) -> None:
        self._entries[match_id] = entry
        self._entries.move_to_end(match_id)
        while len(self._entries) > self.max_matches:
            _, old = self._entries.popitem(last=False)  # its file stays, to be reloaded on demand
            old.close()

    def _entry(self, match_id: str) -> _Entry:
        _check_id(match_id)
        entry = self._entries.get(match_id)
        return entry if entry is not None else self._load(match_id)

    # ------------------------------------------------------------------ matches

    def register(self, info: dict | None, match_id: str | None = None) -> tuple[str, bool]:
        """Register a match; returns ``(match_id, created)``. The same id with the same info is idempotent."""
        info = _jsonable(info)
        with self._lock:
            if match_id is None:
                match_id = new_match_id(info)
            _check_id(match_id)
            held = None
            if match_id in self._entries or self._path(match_id).exists():
                try:
                    held = self._entry(match_id)
                except MatchNotFound:  # an unreadable file, moved aside: the id is free again
                    held = None
            if held is None:
                self.prune()
                if self._create(match_id, info):
                    self._hold(match_id, _Entry(Match(info, match_id=match_id), self._path(match_id), time.time()))
                    return match_id, True
                held = self._entry(match_id)  # another process created it first
            if held.match.info != info:
                raise MatchConflict(
                    f"match {match_id!r} is already registered with different info; "
                    f"use another match_id or DELETE this one first"
                )
            return match_id, False

    def feed(
        self,
        match_id: str,
        innings: int,
        over: int,
        index: int,
        delivery: dict,
        team: str | None = None,
        super_over: bool = False,
    ) -> BallResult:
        """Take one delivery (durably, before it counts); ``.status`` tells new, duplicate or correction.

        Raises MatchNotFound, DeliveryError (bad input), PositionError (out of order: ``.accepted``) or
        StorageError (the state directory could not be written; nothing was counted).
        """
        with self._lock:
            entry = self._entry(match_id)
            status = entry.match.classify(innings, over, index, delivery, team, super_over)
            if status != "duplicate":
                record = {
                    "type": "delivery",
                    "innings": innings,
                    "over": over,
                    "index": index,
                    "team": team,
                    "super_over": super_over,
                    "delivery": delivery,
                }
                try:
                    entry.append(record)
                except (OSError, TypeError, ValueError) as exc:
                    self._drop(match_id)  # memory may be ahead of the file now: reload from the file next time
                    raise StorageError(f"could not store the delivery for {match_id!r}: {exc}") from exc
            result = entry.match.feed(innings, over, index, delivery, team=team, super_over=super_over)
            self._entries.move_to_end(match_id)
            if status == "duplicate":
                self.duplicates += 1
                return result
            self.deliveries_fed += 1
            if status == "correction":
                self.corrections += 1
                entry.replies.pop((innings, over, index), None)
            self._publish(
                match_id,
                {
                    "type": "ball",
                    "innings": innings,
                    "over": over,
                    "index": index,
                    "status": status,
                    "score": result.state["score"],
                    "over_ball": result.state["over_ball"],
                    "state": result.state,
                },
            )
            return result

    def record_reply(self, match_id: str, innings: int, over: int, index: int, reply: dict) -> dict:
        """Keep the commentary reply for a fed delivery (durably) and send it to the live clients; returns the line."""
        if not isinstance(reply, dict):
            raise StoreError(f"reply must be a dict with text, silent and latency_ms, got {type(reply).__name__}")
        with self._lock:
            entry = self._entry(match_id)
            pos = (innings, over, index)
            result = entry.match.result_at(*pos)
            if result is None:
                raise StoreError(f"no delivery at innings {innings} over {over} index {index} of {match_id!r}")
            try:
                entry.append({"type": "reply", "innings": innings, "over": over, "index": index, "reply": reply})
            except (OSError, TypeError, ValueError) as exc:
                raise StorageError(f"could not store the reply for {match_id!r}: {exc}") from exc
            entry.replies[pos] = reply
            line = self._line(pos, reply)
            self._publish(
                match_id,
                {"type": "line", **line, "score": result.state["score"], "over_ball": result.state["over_ball"]},
            )
            self._replied.notify_all()
            return line

    def reply_at(self, match_id: str, innings: int, over: int, index: int) -> dict | None:
        """The reply recorded for a position, or None if none was (yet)."""
        with self._lock:
            return self._entry(match_id).replies.get((innings, over, index))

    def wait_reply(self, match_id: str, innings: int, over: int, index: int, timeout: float) -> dict | None:
        """Wait up to ``timeout`` s for the reply to a position (a duplicate sent while the first is generating)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                reply = self._entry(match_id).replies.get((innings, over, index))
                left = deadline - time.monotonic()
                if reply is not None or left <= 0:
                    return reply
                self._replied.wait(left)

    def match(self, match_id: str) -> Match:
        """The match's state (loaded from its file if it is not in memory). Read it under no lock: do not feed it."""
        with self._lock:
            return self._entry(match_id).match

    def summary(self, match_id: str) -> dict:
        """GET /v1/matches/{id}: info, innings totals, milestones and result."""
        with self._lock:
            return self._entry(match_id).match.summary()

    def commentary(self, match_id: str) -> list[dict]:
        """GET /v1/matches/{id}/commentary: the lines in match order, the latest reply for a corrected ball."""
        with self._lock:
            replies = self._entry(match_id).replies
            return [self._line(pos, replies[pos]) for pos in sorted(replies)]

    @staticmethod
    def _line(pos: tuple, reply: dict) -> dict:
        return {
            "innings": pos[0],
            "over": pos[1],
            "index": pos[2],
            "text": reply.get("text", ""),
            "silent": bool(reply.get("silent", not reply.get("text"))),
            "latency_ms": reply.get("latency_ms"),
        }

    def list_matches(self) -> list[dict]:
        """GET /v1/matches: every match on disk, most recently fed first."""
        with self._lock:
            out = []
            for path in self.folder.glob("*.jsonl"):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                match_id = path.stem
                entry = self._entries.get(match_id)
                key = (st.st_mtime_ns, st.st_size)
                cached = self._listing.get(str(path))
                if entry is None and (cached is None or cached[0] != key):
                    try:
                        header, records = self._read(path)
                    except (OSError, StoreError) as exc:
                        log.warning("listing %s: %s", path, exc)
                        continue
                    count = len(
                        {
                            (r.get("innings"), r.get("over"), r.get("index"))
                            for r in records
                            if r.get("type") == "delivery"
                        }
                    )
                    cached = (key, header.get("info") or {}, count)
                    self._listing[str(path)] = cached
                info = entry.match.info if entry is not None else cached[1]
                out.append(
                    {
                        "match_id": match_id,
                        "teams": info.get("teams"),
                        "match_type": info.get("match_type"),
                        "dates": info.get("dates"),
                        "deliveries": entry.match.deliveries_fed if entry is not None else cached[2],
                        "in_memory": entry is not None,
                        "bytes": st.st_size,
                        "updated": st.st_mtime,
                    }
                )
            return sorted(out, key=lambda m: m["updated"], reverse=True)

    def delete(self, match_id: str) -> None:
        """DELETE /v1/matches/{id}: forget the match and remove its file; live clients get a "deleted" event."""
        with self._lock:
            _check_id(match_id)
            path = self._path(match_id)
            if match_id not in self._entries and not path.exists():
                raise MatchNotFound(f"no match {match_id!r}")
            self._drop(match_id)
            path.unlink(missing_ok=True)
            self._listing.pop(str(path), None)
            self._publish(match_id, {"type": "deleted", "match_id": match_id})

    def _drop(self, match_id: str) -> None:
        entry = self._entries.pop(match_id, None)
        if entry is not None:
            entry.close()

    def prune(self) -> list[str]:
        """Remove match files past ``keep_days``, then the oldest until under ``max_bytes``; held ones stay."""
        with self._lock:
            now = time.time()
            files = []
            for path in list(self.folder.glob("*.jsonl")) + list(self.folder.glob("*.corrupt")):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, st.st_size, path))
            files.sort()
            removed, total = [], sum(size for _, size, _ in files)
            for mtime, size, path in files:
                held = path.suffix == ".jsonl" and path.stem in self._entries
                too_old = now - mtime > self.keep_days * 86400
                if held or not (too_old or total > self.max_bytes):
                    continue
                path.unlink(missing_ok=True)
                total -= size
                removed.append(path.stem)
                self._listing.pop(str(path), None)
                log.info("removed match file %s (%s)", path.name, "older than keep_days" if too_old else "size cap")
            return removed

    # ------------------------------------------------------------------ live clients

    def subscribe(self, match_id: str, maxsize: int = SUBSCRIBER_QUEUE) -> Subscription:
        """A queue of this match's events from now on; close it (or use ``with``) when the client goes."""
        with self._lock:
            self._entry(match_id)  # raises MatchNotFound
            sub = Subscription(self, match_id, maxsize)
            self._subscribers.setdefault(match_id, set()).add(sub)
            return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.match_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.match_id]

    def _publish(self, match_id: str, event: dict) -> None:
        for sub in list(self._subscribers.get(match_id, ())):
            sub.put(event)

    # ------------------------------------------------------------------ metrics and shutdown

    def stats(self) -> dict:
        """Counters for /metrics: matches held in memory and on disk, deliveries fed, corrections, stream clients."""
        with self._lock:
            return {
                "matches_in_memory": len(self._entries),
                "matches_on_disk": sum(1 for _ in self.folder.glob("*.jsonl")),
                "deliveries_fed": self.deliveries_fed,
                "corrections": self.corrections,
                "duplicates": self.duplicates,
                "stream_clients": sum(len(s) for s in self._subscribers.values()),
            }

    def close(self) -> None:
        """Close the files and end every live stream (server shutdown)."""
        with self._lock:
            for match_id in list(self._entries):
                self._drop(match_id)
            for subs in list(self._subscribers.values()):
                for sub in list(subs):
                    sub.close()
