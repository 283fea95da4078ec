"""The core of ``suksham replay``: a whole Cricsheet match fed ball by ball to a server's match feed.

    summary = replay("1144530.json", url="http://127.0.0.1:8222", speed=0, out_dir="out/final",
                     progress=lambda line, done, total: print(format_line(line)))

Each delivery goes to ``POST /v1/matches/{id}/deliveries`` in Cricsheet's order (innings, over, index), after the
match is registered with ``POST /v1/matches``. With ``start=(innings, over)`` (``--from I:O``) the balls before it
go with ``comment: false``: the server's state catches up without asking the model. The pace is a real match's
(``REAL_SECONDS_PER_BALL``) divided by ``speed``; ``speed=0`` feeds as fast as the server answers.

``out_dir`` gets ``transcript.jsonl`` (one line per ball, written as it goes, so an interrupted replay keeps
what it said), ``transcript.md`` and ``summary.json``: balls, silences, distinct lines, latency p50/p95,
milestones and the result. The click command in ``device/cli.py`` only parses options, prints through the
``progress`` callback and turns ``ReplayError`` into a message.

TODO(lead): ``--bundle DIR`` needs the app in process. Pass ``client=`` any httpx.Client-like object; starlette's
``TestClient`` is one: ``with TestClient(create_app(settings)) as client: replay(path, client=client)`` (the
``with`` runs the lifespan that loads the model).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REAL_SECONDS_PER_BALL = 40.0  # an ODI innings: about 3 h 20 min for 300 balls, drinks and reviews included
RETRIES_WHEN_BUSY = 5  # 503 + Retry-After: the server's queue is full, so wait as it asks
DEFAULT_TIMEOUT_S = 120.0

Progress = Callable[[dict, int, int], None]


class ReplayError(Exception):
    """A replay that cannot go on: a bad match file or option, or a server that refused a ball."""


@dataclass(frozen=True)
class Ball:
    """One delivery of a match file with its position, as the match feed takes it."""

    innings: int  # 1-based
    over: int  # 0-based, as in Cricsheet
    index: int  # 0-based position in the over's list
    team: str | None
    super_over: bool
    delivery: dict

    def body(self, comment: bool) -> dict:
        body = {
            "innings": self.innings,
            "over": self.over,
            "index": self.index,
            "delivery": self.delivery,
            "super_over": self.super_over,
            "comment": comment,
        }
        if self.team:
            body["team"] = self.team
        return body


def read_match(path: str | Path) -> dict:
    """Read a Cricsheet JSON match file, or say what is wrong with it."""
    try:
        match = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ReplayError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(match, dict) or not isinstance(match.get("innings"), list):
        raise ReplayError(
            f"{path} is not a Cricsheet match: it needs 'info' and a list of 'innings' "
            "(see https://cricsheet.org/format/json/)"
        )
    for n, inn in enumerate(match["innings"], start=1):
        if not isinstance(inn, dict) or not isinstance(inn.get("overs"), list):
            raise ReplayError(f"{path}: innings {n} has no list of 'overs'")
    return match


def iter_balls(match: dict) -> Iterator[Ball]:
    """Every delivery of a match in order: innings, then over, then position in the over."""
    for i, inn in enumerate(match["innings"], start=1):
        for over in inn["overs"]:
            for x, delivery in enumerate(over.get("deliveries", [])):
                yield Ball(i, over["over"], x, inn.get("team"), bool(inn.get("super_over", False)), delivery)


def parse_from(text: str) -> tuple[int, int]:
    """``"2:10"`` (innings 2 from over 10; innings 1-based, over 0-based as in Cricsheet) -> (2, 10)."""
    try:
        innings, over = (int(part) for part in text.split(":"))
    except ValueError:
        raise ReplayError(f"--from must be INNINGS:OVER such as 2:10, got {text!r}") from None
    if innings < 1 or over < 0:
        raise ReplayError(f"--from needs innings >= 1 and over >= 0, got {text!r}")
    return innings, over


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def format_line(line: dict) -> str:
    """``49.6  241/10  Tied.`` for the terminal; a silence shows as an ellipsis, a catch-up ball as a dash."""
    text = line["text"] if line.get("text") else ("-" if not line["commented"] else "...")
    return f"{line['over_ball']:>5}  {line['score']:>7}  {text}"


class _Server:
    """The few calls a replay makes, with the server's error messages and its Retry-After respected."""

    def __init__(self, client, sleep: Callable[[float], None]):
        self.client = client
        self.sleep = sleep

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        for attempt in range(RETRIES_WHEN_BUSY + 1):
            try:
                response = self.client.request(method, path, json=body)
            except httpx.HTTPError as exc:
                raise ReplayError(f"{method} {path} failed: {exc}") from exc
            if response.status_code == 503 and attempt < RETRIES_WHEN_BUSY:
                self.sleep(float(response.headers.get("Retry-After", "1") or 1))
                continue
            if response.status_code >= 400:
                try:
                    message = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = response.text[:200]
                raise ReplayError(f"{method} {path} -> {response.status_code}: {message}")
            return response.json()
        raise ReplayError(f"{method} {path}: the server stayed busy")  # pragma: no cover - loop always returns


def replay(
    match_path: str | Path,
    url: str | None = None,
    *,
    client=None,
    speed: float = 1.0,
    start: tuple[int, int] | None = None,
    out_dir: str | Path | None = None,
    api_key: str | None = None,
    match_id: str | None = None,
    progress: Progress | None = None,
    seconds_per_ball: float = REAL_SECONDS_PER_BALL,
    timeout: float = DEFAULT_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Feed a match file to a server (``url``, or an httpx-like ``client``) and return the summary.

    ``progress(line, done, total)`` is called after every ball with its transcript line.
    """
    if speed < 0:
        raise ReplayError(f"--speed must be 0 (as fast as possible) or more, got {speed}")
    if (url is None) == (client is None):
        raise ReplayError("give a server: url (--url) or client (--bundle starts one in process)")
    match = read_match(match_path)
    balls = list(iter_balls(match))
    if not balls:
        raise ReplayError(f"{match_path} has no deliveries")
    if start is not None and not any((b.innings, b.over) >= start for b in balls):
        raise ReplayError(f"--from {start[0]}:{start[1]} is past the last ball of {match_path}")
    own = client is None
    if own:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        client = httpx.Client(base_url=url, headers=headers, timeout=timeout)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    server = _Server(client, sleep)
    lines: list[dict] = []
    began = time.monotonic()
    try:
        registered = {"info": match.get("info") or {}}
        if match_id:
            registered["match_id"] = match_id
        match_id = server.call("POST", "/v1/matches", registered)["match_id"]
        with open(out / "transcript.jsonl", "w", encoding="utf-8") if out else contextlib.nullcontext() as transcript:
            pace = seconds_per_ball / speed if speed else 0.0
            for done, ball in enumerate(balls, start=1):
                comment = start is None or (ball.innings, ball.over) >= start
                sent = time.monotonic()
                reply = server.call("POST", f"/v1/matches/{match_id}/deliveries", ball.body(comment))
                line = _transcript_line(ball, reply, comment)
                lines.append(line)
                if transcript:
                    transcript.write(json.dumps(line) + "\n")
                    transcript.flush()
                if progress:
                    progress(line, done, len(balls))
                if comment and pace:
                    sleep(max(pace - (time.monotonic() - sent), 0.0))
        final = server.call("GET", f"/v1/matches/{match_id}")
    finally:
        if own:
            client.close()
    summary = summarize(lines, final, match_id, time.monotonic() - began)
    if out is not None:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        (out / "transcript.md").write_text(transcript_markdown(match, lines, summary), encoding="utf-8")
    return summary


def _transcript_line(ball: Ball, reply: dict, comment: bool) -> dict:
    state = reply.get("state") or {}
    d = ball.delivery
    return {
        "innings": ball.innings,
        "over": ball.over,
        "index": ball.index,
        "over_ball": state.get("over_ball", f"{ball.over}.{ball.index + 1}"),
        "score": state.get("score", "?"),
        "batter": d.get("batter"),
        "bowler": d.get("bowler"),
        "runs": (d.get("runs") or {}).get("total"),
        "wickets": [w.get("player_out") for w in d.get("wickets", [])],
        "super_over": ball.super_over,
        "commented": comment,
        "text": reply.get("text", "") if comment else "",
        "silent": bool(reply.get("silent", not reply.get("text"))) if comment else None,
        "latency_ms": reply.get("latency_ms") if comment else None,
        "special": state.get("special", []),
    }


def summarize(lines: list[dict], final: dict, match_id: str, elapsed_s: float) -> dict:
    """Balls, silences, distinct lines, latency p50/p95, milestones and result of one replay."""
    said = [line for line in lines if line["commented"]]
    texts = [line["text"] for line in said if line["text"]]
    latencies = [line["latency_ms"] for line in said if isinstance(line["latency_ms"], (int, float))]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "match_id": match_id,
        "balls": len(lines),
        "commented": len(said),
        "silences": sum(1 for line in said if line["silent"]),
        "lines": len(texts),
        "distinct_lines": len(set(texts)),
        "latency_ms": {"p50": None if p50 is None else round(p50, 1), "p95": None if p95 is None else round(p95, 1)},
        "milestones": final.get("milestones", []),
        "innings": final.get("innings", []),
        "result": final.get("result"),
        "elapsed_s": round(elapsed_s, 2),
        "balls_per_s": round(len(lines) / elapsed_s, 2) if elapsed_s > 0 else None,
    }


def transcript_markdown(match: dict, lines: list[dict], summary: dict) -> str:
    """The transcript for people: each innings' commented balls with over.ball and score, then the summary."""
    info = match.get("info") or {}
    teams = " v ".join(info.get("teams") or []) or "A match"
    when = ", ".join(filter(None, [info.get("venue"), (info.get("dates") or [None])[0]]))
    out = [f"# {teams}", "", f"{when}  ", f"match_id `{summary['match_id']}`", ""]
    innings = None
    for line in lines:
        if not line["commented"]:
            continue
        if line["innings"] != innings:
            innings = line["innings"]
            label = "super over" if line["super_over"] else f"innings {innings}"
            out += ["", f"## {label}", "", "| ball | score | batter | commentary |", "| --- | --- | --- | --- |"]
        text = line["text"].replace("|", "\\|") if line["text"] else "*(silence)*"
        mark = " **" + ", ".join(line["special"]) + "**" if line["special"] else ""
        out.append(f"| {line['over_ball']} | {line['score']} | {line['batter']} | {text}{mark} |")
    lat = summary["latency_ms"]
    out += [
        "",
        "## Summary",
        "",
        "| | |",
        "| --- | --- |",
        f"| balls | {summary['balls']} ({summary['commented']} commented) |",
        f"| silences | {summary['silences']} |",
        f"| distinct lines | {summary['distinct_lines']} |",
        f"| latency p50 / p95 | {lat['p50']} / {lat['p95']} ms |",
        f"| milestones | {', '.join(m['kind'] + ' ' + m['player'] for m in summary['milestones']) or '-'} |",
        f"| result | {json.dumps(summary['result'])} |",
        f"| elapsed | {summary['elapsed_s']} s |",
        "",
    ]
    return "\n".join(out)
