"""What the dataset is made of: its mix of pools, its prompt limit, and the key for "the same prompt".

Shared by `builder.data.dataset` (which makes the data) and `builder.data.report` (which describes it).
"""

from __future__ import annotations

import re

DEFAULT_SEED = 1234
MAX_PROMPT_TOKENS = 60

# Target share of each pool in the data, against ~1-5% natural frequency for wickets and boundaries:
# the model must learn the rare moments, and routine balls teach little beyond "be quiet".
MIX = {
    "dot": 0.16,
    "runs": 0.14,
    "four": 0.11,
    "six": 0.07,
    "wicket": 0.22,
    "dropped": 0.05,
    "wide": 0.04,
    "noball": 0.025,
    "byes": 0.015,
    "legbyes": 0.025,
    "milestone": 0.04,
    "day_start": 0.025,
    "hat_trick": 0.012,
    "review": 0.02,
    "chase": 0.018,
    "maiden": 0.01,
}
STYLE_MIX = {"structured": 0.4, "cricinfo": 0.2, "plain": 0.2, "shorthand": 0.2}
RAW_SHARE_OF_TEXT = 1 / 3  # text styles are 60% of prompts, so about 20% of all prompts are raw text
MAX_COPIES = 3  # renderings of one event at most (rare pools are small in val/test)
UNCLEAR_SHARE = 0.02  # text that states no outcome ("Starc to Kohli"): the model must not invent one


def normalise(text: str) -> str:
    """The key for 'same prompt': lower case, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())
