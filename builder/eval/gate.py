"""The release gate: does an evaluation report meet the config's thresholds? And the names of the models it compares.

Works on the plain `report` dict that `builder.eval.run` writes as eval.json, so a report can be re-gated
without running any model.
"""

from __future__ import annotations

SERVED = "q4_k_m"  # the model the bundle ships: its own replies, prompted as /v1/commentary prompts it
GUARDED = "q4_k_m+guard"  # what /v1/commentary returns: SERVED's replies after the server's manner guard
SAMPLED = "q4_k_m+sampled"  # issue 15: what /v1/commentary returns under the bundle's sampling, re-draws and guard
FEW_SHOT_BASE = "base-few-shot"  # the base prompted as Benaud, with examples, on the event's words
FEW_SHOT_READER = "base-few-shot+reader"  # the same, plus the reader's "Outcome: ..." line as served
SIXTEEN_BIT = "merged-16bit"
MIN_SPOKEN_FOR_DISTINCT = 20  # below this the distinct share is noise (tiny test builds)


def gate(report: dict, t) -> dict:
    """Judge the served model against thresholds `t` (config eval.thresholds); never raises.

    Returns {"passed", "failures", "checks"}; each failure names the metric, its value and the
    threshold. A check whose inputs were not measured is listed as skipped, not passed.
    """
    models = report.get("models", {})
    # The manner and consistency checks judge what a listener gets from /v1/commentary (the model's
    # reply after the server's guard); the model itself is held to the guard share, the margin over
    # the prompted base and the quantization agreement, all measured before the guard.
    served = (models.get(SAMPLED) or models.get(GUARDED) or models.get(SERVED, {})).get("metrics", {})
    subject = SAMPLED if SAMPLED in models else GUARDED if GUARDED in models else SERVED
    checks = []

    def check(metric: str, value, op: str, threshold: float, why_missing: str = ""):
        if value is None:
            checks.append(
                {
                    "metric": metric,
                    "value": None,
                    "op": op,
                    "threshold": threshold,
                    "passed": None,
                    "skipped": why_missing or "not measured",
                }
            )
            return
        ok = value >= threshold if op == ">=" else value <= threshold
        checks.append({"metric": metric, "value": value, "op": op, "threshold": threshold, "passed": ok})

    if not served:
        checks.append(
            {
                "metric": f"{subject} replies",
                "value": None,
                "op": "exists",
                "threshold": None,
                "passed": False,
                "skipped": None,
            }
        )
    _reply_checks(subject, served, SERVED, models.get(SERVED, {}).get("guarded_share"), t, check)
    model_all = models.get(SERVED, {}).get("metrics", {}).get("all", {})
    _margin_checks(SERVED, model_all.get("composite"), models, t, check)
    _issue15_checks(report, t, check)
    if getattr(t, "q4_agreement_kind", "exact") == "sampled":
        pass  # judged by q4_sampled_rate_gap and q4_max_kl (exact greedy agreement rewards a peaked distribution)
    elif getattr(t, "q4_agreement_kind", "exact") == "tie-aware":
        agree = models.get(SERVED, {}).get("agreement_tie_aware")
        what = "agreement with the 16-bit model (equal, or a near tie for the 16-bit model)"
    else:
        agree, what = models.get(SERVED, {}).get("agreement_with_16bit"), "greedy agreement with the 16-bit model"
    if getattr(t, "q4_agreement_kind", "exact") != "sampled":
        check(
            f"{SERVED} {what}",
            agree,
            ">=",
            t.q4_agreement,
            "no 16-bit model was available (tie-aware needs the F16 GGUF)",
        )
    for quant in report.get("optional_quants") or []:
        _optional_quant_checks(models, quant, t, check, checks)
    failures = []
    for c in checks:
        if c["passed"] is False:
            if c["value"] is None:
                failures.append(f"{c['metric']}: missing (the model produced no replies)")
            else:
                failures.append(f"{c['metric']} = {c['value']:.3f}, threshold {c['op']} {c['threshold']}")
    return {"passed": not failures, "failures": failures, "checks": checks}


def _issue15_checks(report: dict, t, check) -> None:
    """The colour config's thresholds (issue 15); each is skipped in the gate when the config leaves it null."""
    models = report.get("models", {})
    variety = report.get("variety") or {}
    matches = variety.get("matches") or {}
    sampled = variety.get("sampled_rates") or {}
    model_all = models.get(SERVED, {}).get("metrics", {}).get("all", {})
    # The raw path as `ollama run` decodes it: under the Modelfile's sampling when it samples (the colour config),
    # else greedy, which is what a temperature-0 Modelfile does.
    raw_sampled = variety.get("raw_sampled") or {}
    raw_all = raw_sampled.get("rates") or models.get(f"{SERVED}-raw", {}).get("metrics", {}).get("all", {})
    raw = f"{SERVED}-raw (the Ollama path{', sampled' if raw_sampled.get('rates') else ''})"
    kl = None
    quant = report.get("quantization") or {}
    if f"{SERVED} vs F16" in quant:
        kl = quant[f"{SERVED} vs F16"].get("kl_mean")
    no_variety = "no matches were replayed (eval.variety is off)"
    for metric, value, op, threshold, why in (
        ("replayed matches: distinct share of spoken replies (worst match)", matches.get("distinct_share"), ">=",
         getattr(t, "match_distinct_share", None), no_variety),
        ("replayed matches: bare-label share of spoken replies (worst match)", matches.get("bare_label_share"), "<=",
         getattr(t, "max_bare_label_share", None), no_variety),
        (f"replayed matches: most times one line is said in {20} consecutive spoken replies",
         matches.get("max_in_window"), "<=", getattr(t, "max_repeats_in_20", None), no_variety),
        (f"{SERVED} vs 16-bit under sampled decoding: largest rubric-rate gap", sampled.get("max_gap"), "<=",
         getattr(t, "q4_sampled_rate_gap", None), "no sampled comparison (eval.variety off, or no F16 GGUF)"),
        (f"{SERVED} vs F16 KL, nats per reply token", kl, "<=", getattr(t, "q4_max_kl", None),
         "KL was not measured (eval.kl_events 0, or no F16 GGUF)"),
        (f"{SERVED} alone (before the guard): contradiction rate", model_all.get("contradiction_rate"), "<=",
         getattr(t, "model_contradiction_rate", None), ""),
        (f"{SERVED} alone (before the guard): fit rate", model_all.get("fit_rate"), ">=",
         getattr(t, "model_fit", None), ""),
        (f"{raw}: contradiction rate", raw_all.get("contradiction_rate"), "<=",
         getattr(t, "raw_contradiction_rate", None), ""),
        (f"{raw}: fit rate", raw_all.get("fit_rate"), ">=", getattr(t, "raw_fit", None), ""),
    ):  # fmt: skip
        if threshold is not None:
            check(metric, value, op, threshold, why)


def _optional_quant_checks(models: dict, name: str, t, check, checks: list) -> None:
    """An optional quant the bundle ships (issue 19, e.g. "q4_0"), at the served quant's thresholds: what
    /v1/commentary returns when it is served (its replies after the guard: words, "!", contradictions,
    hand-written fit, distinct share), its guard share, its composite margins over the prompted bases and
    its greedy agreement with the 16-bit model (tie-aware when the config says so; with `sampled`, which
    only the served quant is measured under, the exact agreement). The issue-15 checks (replayed matches,
    sampled rates, KL) judge the served quant alone."""
    model = models.get(name, {})
    served = (models.get(f"{name}+guard") or model).get("metrics", {})
    subject = f"{name}+guard" if f"{name}+guard" in models else name
    if not served:  # asked to ship it, and it gave no replies: a failure, never a skip
        missing = {"metric": f"{name} replies", "value": None, "op": "exists", "threshold": None, "passed": False}
        checks.append({**missing, "skipped": None})
        return
    _reply_checks(subject, served, name, model.get("guarded_share"), t, check)
    _margin_checks(name, model.get("metrics", {}).get("all", {}).get("composite"), models, t, check)
    if getattr(t, "q4_agreement_kind", "exact") == "tie-aware" and model.get("agreement_tie_aware") is not None:
        agree, what = model.get("agreement_tie_aware"), "agreement with the 16-bit model (tie-aware)"
    else:
        agree, what = model.get("agreement_with_16bit"), "greedy agreement with the 16-bit model"
    check(f"{name} {what}", agree, ">=", t.q4_agreement, "no 16-bit model was available")


def _reply_checks(subject: str, served: dict, name: str, guarded_share, t, check) -> None:
    """What /v1/commentary returns (`served`: the metrics of `subject`, the replies after the guard) and how
    often the guard replaced model `name`'s reply."""
    allm, hand = served.get("all", {}), served.get("handwritten", {})
    check(f"{subject} share of replies <= 5 words", allm.get("within_words"), ">=", t.max_words_share)
    check(f"{subject} exclamation rate", allm.get("exclamation_rate"), "<=", t.exclamation_rate)
    check(f"{subject} contradiction rate", allm.get("contradiction_rate"), "<=", t.contradiction_rate)
    check(f"{subject} fit rate on the hand-written set", hand.get("fit_rate"), ">=", t.handwritten_fit)
    enough = (allm.get("n_spoken") or 0) >= MIN_SPOKEN_FOR_DISTINCT
    check(
        f"{subject} distinct share of spoken replies",
        allm.get("distinct_share") if enough else None,
        ">=",
        t.min_distinct_share,
        f"fewer than {MIN_SPOKEN_FOR_DISTINCT} spoken replies",
    )
    check(
        f"{name} share of replies the guard replaces",
        guarded_share,
        "<=",
        t.max_guarded_share,
        "the guard share was not measured",
    )


def _margin_checks(name: str, ours, models: dict, t, check) -> None:
    """Model `name`'s composite (`ours`, before the guard) against the prompted base models."""
    kind = getattr(t, "composite_margin_kind", "absolute")
    for base_name, label, threshold, gap in (
        (FEW_SHOT_BASE, "few-shot base", t.composite_margin_over_fewshot, kind == "gap"),
        (FEW_SHOT_READER, "reader-helped few-shot base", getattr(t, "composite_gap_over_reader_base", None), True),
    ):
        if threshold is None or (base_name == FEW_SHOT_READER and base_name not in models):
            continue  # an eval.json from before the reader-helped base was compared
        theirs = models.get(base_name, {}).get("metrics", {}).get("all", {}).get("composite")
        margin = None
        if ours is not None and theirs is not None:
            if gap:  # share of what the prompted base leaves to gain
                margin = (ours - theirs) / (1 - theirs) if theirs < 1 else None
            else:
                margin = ours - theirs
        what = f"share of the {label}'s composite gap closed" if gap else f"composite minus {label} composite"
        check(
            f"{name} {what}",
            margin,
            ">=",
            threshold,
            f"no {label} was evaluated" if theirs is None else f"the {label} is already perfect",
        )
