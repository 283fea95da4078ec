"""Held-out events for the evaluation: the hand-written set and the dataset's test split.

The hand-written set (`builder/heldout/events.jsonl`) was written by hand, apart from the data
generator, in styles it never produces (Cricinfo lines, radio prose, scorer shorthand, typos,
women's cricket, unusual names, Cricsheet deliveries with context). Every line carries a
hand-made label; the label, not the prompt module's reader, is the truth the replies are checked
against, so a reader mistake cannot hide a model mistake.

    python -m builder.eval.events            # validate the set, print its sha256 and reader accuracy
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from device.commentary.delivery import read_delivery, read_text
from device.commentary.events import DISMISSAL_KINDS, OUTCOMES, Canonical, EventError
from device.commentary.render import SYSTEM_PROMPT, build_messages, render_user

HELDOUT_PATH = Path(__file__).resolve().parents[1] / "heldout" / "events.jsonl"  # builder/heldout/
STYLES = ("cricinfo", "radio", "shorthand", "plain", "typo", "cricsheet")
LABEL_KEYS = {"outcome", "runs", "dismissal", "extras", "day_start", "milestone"}


@dataclass
class EvalEvent:
    id: str
    set: str  # "handwritten" or "test"
    style: str
    truth: Canonical  # what really happened: the replies are checked against this
    text: str | None = None
    delivery: dict | None = None
    context: dict | None = None
    user: str | None = None  # pre-rendered user message (test split lines without a raw event)
    reference: str | None = None  # the dataset's reply, when there is one
    label: dict = field(default_factory=dict)

    def dataset_messages(self) -> list[dict]:
        """The prompt exactly as the dataset wrote it (for the reference loss), else as served."""
        if self.user is not None:
            return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": self.user}]
        return self.messages()

    def messages(self, outcome_line: bool = True) -> list[dict]:
        """Chat messages as /v1/commentary builds them (outcome_line=False: raw, as `ollama run`)."""
        if self.user is not None and self.text is None and self.delivery is None:
            return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": self.user}]
        return build_messages(text=self.text, delivery=self.delivery, context=self.context, outcome_line=outcome_line)

    def event_text(self) -> str | None:
        """The words an echo is measured against."""
        return self.text

    def describe(self) -> str:
        if self.text is not None:
            return self.text
        if self.delivery is not None:  # as scoring software would show it, without the outcome line
            return "[delivery] " + render_user(delivery=self.delivery, context=self.context, outcome_line=False)
        return (self.user or "")[:160]


def heldout_sha256(path: str | Path = HELDOUT_PATH) -> str:
    """sha256 of the hand-written held-out file, for the manifest (dataset.heldout_sha256)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _truth_from_label(label: dict, read: Canonical | None, exact: bool = False) -> Canonical:
    """The hand label laid over what the reader found, so the label always wins.

    From free text (`exact` False) only the names are taken from the reader; every flag the
    checker uses (day start, milestone, hat-trick ball, review) comes from the label, so a change
    in the tolerant reader cannot move the truth. A Cricsheet delivery is read exactly.
    """
    base = read if read is not None else Canonical(outcome=label["outcome"])
    fields = {"outcome": label["outcome"], "confident": True}
    if not exact:
        fields.update(
            day_start=False,
            milestone=None,
            hat_trick_ball=False,
            new_batter=False,
            review=None,
            extra_kind=None,
            runs=None,
            extras=None,
        )
    for key in ("runs", "dismissal", "extras"):
        if key in label:
            fields[key] = label[key]
    if label["outcome"] != "wicket":
        fields["dismissal"] = None
        fields["player_out"] = None
    if not exact:
        extra_kind = {"wide": "wides", "noball": "noballs", "byes": "byes", "legbyes": "legbyes"}
        fields["extra_kind"] = extra_kind.get(label["outcome"])
    if "day_start" in label:
        fields["day_start"] = bool(label["day_start"])
    if label.get("milestone"):  # the label says there is one; its words come from the reader when it found them
        fields["milestone"] = base.milestone or "milestone"
    return dataclasses.replace(base, **fields)


def _check_label(label, where: str) -> list[str]:
    problems = []
    if not isinstance(label, dict):
        return [f"{where}: 'label' must be an object with an 'outcome'"]
    unknown = set(label) - LABEL_KEYS
    if unknown:
        problems.append(f"{where}: unknown label keys {sorted(unknown)}; allowed {sorted(LABEL_KEYS)}")
    if label.get("outcome") not in OUTCOMES:
        problems.append(f"{where}: label outcome {label.get('outcome')!r} is not one of {list(OUTCOMES)}")
    if label.get("dismissal") is not None and label["dismissal"] not in DISMISSAL_KINDS:
        problems.append(f"{where}: dismissal {label['dismissal']!r} is not a Cricsheet kind")
    if label.get("outcome") == "wicket" and not label.get("dismissal"):
        problems.append(f"{where}: a wicket needs its dismissal kind in the label")
    return problems


def load_heldout(path: str | Path = HELDOUT_PATH) -> list[EvalEvent]:
    """Read and validate the hand-written set; raise ValueError listing every bad line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"hand-written held-out set {path} is missing; it ships in builder/heldout/ (reinstall the package)"
        )
    events, problems, seen = [], [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc.msg})")
            continue
        bad = _check_label(row.get("label"), where)
        if row.get("id") in seen or not row.get("id"):
            bad.append(f"{where}: missing or duplicate id {row.get('id')!r}")
        if row.get("style") not in STYLES:
            bad.append(f"{where}: style {row.get('style')!r} is not one of {list(STYLES)}")
        if (row.get("text") is None) == (row.get("delivery") is None):
            bad.append(f"{where}: give exactly one of 'text' or 'delivery'")
        if bad:
            problems.extend(bad)
            continue
        seen.add(row["id"])
        read = None
        if row.get("delivery") is not None:
            try:
                read = read_delivery(row["delivery"], row.get("context"))
            except EventError as exc:
                problems.append(f"{where}: the prompt module refuses this delivery: {exc}")
                continue
        else:
            try:  # only for names and flags; the label overrides what it says happened
                read = read_text(row["text"])
            except EventError:
                read = None
        events.append(
            EvalEvent(
                id=row["id"],
                set="handwritten",
                style=row["style"],
                text=row.get("text"),
                delivery=row.get("delivery"),
                context=row.get("context"),
                truth=_truth_from_label(row["label"], read, exact=row.get("delivery") is not None),
                label=row["label"],
            )
        )
    if problems:
        raise ValueError(f"{len(problems)} problem(s) in the held-out set:\n  " + "\n  ".join(problems))
    return events


def reader_accuracy(events: list[EvalEvent]) -> dict:
    """How often the prompt module's reader gets the hand-labelled outcome (and dismissal) right."""
    total = right = kind_total = kind_right = 0
    misses = []
    for ev in events:
        if ev.text is None and ev.delivery is None:
            continue
        try:
            got = read_delivery(ev.delivery, ev.context) if ev.delivery is not None else read_text(ev.text)
        except EventError as exc:
            misses.append({"id": ev.id, "want": ev.truth.outcome, "got": f"error: {exc}"})
            total += 1
            continue
        total += 1
        ok = got.outcome == ev.truth.outcome
        right += ok
        if ev.truth.outcome == "wicket":
            kind_total += 1
            kind_right += got.dismissal == ev.truth.dismissal
        if not ok:
            misses.append({"id": ev.id, "want": ev.truth.outcome, "got": got.outcome})
    return {
        "n": total,
        "outcome_accuracy": right / total if total else None,
        "dismissal_accuracy": kind_right / kind_total if kind_total else None,
        "misses": misses,
    }


def _canonical_from(obj: dict) -> Canonical:
    names = {f.name for f in dataclasses.fields(Canonical)}
    return Canonical(**{k: v for k, v in obj.items() if k in names})


def _raw_text(user: str) -> str:
    """The event's own words: a rendered user message without its leading "Outcome: ..." line."""
    lines = user.split("\n")
    while lines and lines[0].startswith("Outcome:"):
        lines.pop(0)
    return "\n".join(lines).strip() or user


def _test_event(row: dict, n: int) -> EvalEvent:
    """One test.jsonl line: chat messages plus the generator's labels (outcome, dismissal, style, id).

    The event is re-rendered from its raw words by the prompt module, as the server would; the
    dataset's own user message is kept for the reference loss.
    """
    messages = row.get("messages")
    if not isinstance(messages, list):
        raise ValueError(f"test.jsonl:{n}: no 'messages' list (chat format expected)")
    user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    reply = next((m.get("content") for m in messages if m.get("role") == "assistant"), None)
    if user is None or reply is None:
        raise ValueError(f"test.jsonl:{n}: needs a user and an assistant message")
    raw = row.get("event") if isinstance(row.get("event"), dict) else {}
    text, delivery, context = raw.get("text"), raw.get("delivery"), raw.get("context")
    if text is None and delivery is None:
        text = _raw_text(user)
    # The whole rendered message (outcome and flag lines included) is what the reader reads best.
    read = read_delivery(delivery, context) if delivery is not None else read_text(user)
    canonical = row.get("canonical")
    if isinstance(canonical, dict):
        truth = _canonical_from(canonical)
    elif row.get("outcome") in OUTCOMES:
        label = {"outcome": row["outcome"]}
        if row.get("dismissal"):
            label["dismissal"] = row["dismissal"]
        truth = _truth_from_label(label, read, exact=True)  # flags: from the generator's own flag lines
    else:
        truth = read
    return EvalEvent(
        id=str(row.get("id") or f"t{n:05d}"),
        set="test",
        style=str(row.get("style") or "test"),
        truth=truth,
        text=text,
        delivery=delivery,
        context=context,
        user=user,
        reference=reply,
    )


def load_test_split(dataset_dir: str | Path, n_events: int, seed: int = 0) -> list[EvalEvent]:
    """A seeded sample of `n_events` lines of DATASET/test.jsonl (all of them if fewer)."""
    path = Path(dataset_dir) / "test.jsonl"
    if not path.is_file():
        raise ValueError(
            f"{path} is missing: run `suksham dataset --out {dataset_dir}` first, or pass another dataset folder"
        )
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    picked = sorted(order[:n_events])
    return [_test_event(rows[i], i + 1) for i in picked]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else HELDOUT_PATH
    events = load_heldout(path)
    styles = {}
    for ev in events:
        styles[ev.style] = styles.get(ev.style, 0) + 1
    acc = reader_accuracy(events)
    print(f"{len(events)} events, styles {styles}\nsha256 {heldout_sha256(path)}")
    print(f"reader outcome accuracy {acc['outcome_accuracy']:.3f}, dismissal {acc['dismissal_accuracy']:.3f}")
    for miss in acc["misses"]:
        print(f"  {miss['id']}: want {miss['want']}, got {miss['got']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
