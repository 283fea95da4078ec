"""The tolerant rule-based reader of free-text cricket events, behind `device.commentary.read_text`.

It reads Cricinfo-style lines ("Starc to Kohli, FOUR, driven through cover"), plain English,
commentary prose and scorer shorthand ("12.3 Starc>Kohli 4", "W", "1lb", "2nb", "wd") into a
`Canonical`. It looks for cues per outcome class, cancels cues that are negated ("not out",
"would have been four", "dropped"), then applies the precedence documented in device.commentary.
When the cues are missing or contradict each other it says "unclear" instead of guessing:
a drop together with a bowled/lbw/hit-wicket cue (two balls in one line), a wicket cue next to a
capitalised FOUR or SIX ("SIX... caught on the boundary? No"), a FOUR next to a SIX, or a
decision overturned on review without the runs being told. Numbers that are not runs (over.ball,
scores, figures, "reaches 100", "day 3", "(45)") are masked before digits are read.

Loose cue words are the costly mistake (the prompt states the outcome and the server's guard
trusts it), so: an "out" that leads on is no dismissal ("out of the attack", "out comes the
physio"); a hedge takes back only the cue after it ("would have been six", "almost caught");
an appeal or chance names a kind without it happening ("run-out appeal, but she's in"); a bare
take is a catch only away from the keeper or after an edge, and never on the bounce, off a leave
or a blow ("taken on the thigh pad"); after a review the last verdict counts ("given not out ...
three reds, he's gone"); a lone "gone" beside a boundary is the ball going; and a kind the Laws
forbid with the extra named (caught off a leg bye, bowled off a wide) makes the line unclear.

Try it:  python -m device.commentary.reader "Dropped at slip by Smith, they run one"
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

from device.commentary.events import LEGAL_OFF_NOBALL, LEGAL_OFF_WIDE, Canonical

NUM_WORDS = {"a": 1, "one": 1, "single": 1, "two": 2, "couple": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _rx(*parts: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# ---- masks: numbers and words that look like outcomes but are not (scores, overs, the pitch, lines)
MASKS = _rx(
    r"\b\d{1,3}\.\d\b",  # over.ball (a seventh or eighth ball follows extras)
    r"\b\d{1,3}\s*/\s*\d{1,2}\b",
    r"\b\d{1,3}\s*-\s*\d{1,3}\b",
    r"\b\d+\s+for\s+\d+\b",  # scores, figures
    r"\bday\s+(?:\d+|one|two|three|four|five)\b",
    r"\bthrow(?:'s| is| was)?\s+wide\b",
    r"\bwide (?:throw|return)\b",
    r"\b\d+(?:st|nd|rd|th)\b",
    r"\b\d+\s*\*",
    r"\(\s*\d+\s*\)",
    r"\b\d+\s+(?:off|from)\s+\d+\b",
    r"\bneeds?\s+\d+\b",
    r"\b\d+\s+(?:more\s+)?(?:needed|required|wanted|to get)\b",
    r"\btarget\s+(?:of\s+)?\d+\b",
    r"\b\d+\s+to\s+win\b",
    r"\bover\s+\d+\b(?!\s*/)",
    r"(?<!no )(?<!no-)\bball\s+\d+\b(?!\s*/)",
    r"\b\d+\s*(?:overs|balls?|wickets?|mph|kph|km/?h|kmh|m|metres|meters)\b",
    # "6 over" is six overs, but "6 over cow corner" is where a six went
    r"\b\d+\s*over\b(?!\s+(?:the|his|her|long|mid|cow|deep|fine|square|extra|"
    r"covers?|point|mid-?wicket|backward|third|gully|"
    r"slips?|straight|mid-?on|mid-?off|long-?on|long-?off|fine-?leg|bowler|keeper|short)\b)",
    r"\b(?:over|round|around)\s+the\s+wicket\b",
    r"\b(?:the |a |second )?new ball (?:is |has been |was )?taken\b",
    r"\bwicket[- ]?keep\w*\b",
    r"\bwicket\s*maiden\b",
    r"\b(?:this|flat|slow|good|green|dry|turning|two-paced|dead|true|the)\s+wicket\s+(?:is|was|looks|has)\b",
    r"\b(?:four|six|two|three)\s+(?:overs|balls?|wickets?|fielders?|slips?|"
    r"men|times|days|years|innings|deliveries|down|in a row|of the|needed|"
    r"required|to win)\b",
    r"\b(?:fours|sixes|singles|twos)\b",
    r"\b(?:full|short|too|very|so|fairly|quite|bit|and)\s+wide\b",
    r"\bwide\s+(?:one|of|outside|half|long|mid|third|slip|fine|yorker|full|line|angle|on|off|ball outside|delivery)\b",
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+runs?\s+(?:from|"
    r"off|in)\s+(?:it|the over|that over|the last over)\b",
    r"\b\d+x[46]s?\b",
    r"\bwide-?ish\b",
    r"\b(?:\d+|four|five|six|seven|eight|nine|ten)\s+(?:an|a|per)\s+over\b",
    r"\b(?:required|run|asking) rate\b",
    # "Maximum? No, tipped back": asked and denied
    r"\b(?:six|four|maximum|boundary|out|gone|caught|bowled|wicket|taken)\s*\?+\s*no\b",
    r"\b(?:\d+|five)\s+penalty runs?\b",
    r"\bpenalty(?:\s+runs?)?(?:\s+of)?\s*:?\s*(?:\d+|five)\b",  # penalty runs never define the ball
    r"\b(?:check(?:s|ing|ed)?|looks?|looking)\s+(?:for\s+)?(?:a|the)\s+no[- ]?ball\b",
    r"\bno[- ]?ball check\b",
    r"\bnot a no[- ]?ball\b",
    r"\b(?:\d+|two|three|four|five|six)\s+(?:fours|sixes|boundaries|maximums|singles|dots|dot balls|maidens)\b",
    # another ball or over: "the over went for 14", "previous ball was a six", "dropped earlier on 12",
    # "after that boundary"
    r"\bover\s+(?:went|goes|cost|costs|yielded|yields|brought|produced)\s+(?:for\s+)?\d+\b",
    r"\b(?:previous|prior)\s+(?:ball|delivery|over)\b[^;.!]*",
    r"\bafter (?:that|the|this|a) (?:boundary|six|four|wicket|maximum|drop|dropped catch|no-ball|wide|reprieve)\b",
    r"\bafter the wicket of\b",
    r"\b(?:after being|having been)\s+(?:dropped|put down|reprieved|given out)\b(?:\s+on\s+\d+)?",
    r"\b(?:dropped|put down|caught|given out|reprieved|missed|bowled)\s+(?:on "
    r"\d+\s+)?(?:earlier|last over|in the last over|yesterday)\b",
    r"\(\s*\d+\s*b(?:alls?)?\b[^)]*\)",
    r"\bbye[- ]bye\b",
    r"\bgood[- ]?bye\b",  # "(66b 4x4 1x6)", "bye-bye"
    r"\bone[- ](?:handed|hand|day|of)\b",
    r"\bone-off\b",
    r"\b(?:keeps?|kept|keeping|digs?|dug|jams?|jammed|squeezes?|squeezed|"
    r"gets?) (?:it |that |one |the (?:ball|yorker) )?out\b(?!\s+(?:lbw|caught|"
    r"bowled|stumped|for))",
    r"\b(?:two|three) minds\b",
)
OVERTURNED = re.compile(r"overturn|reversed|review (?:is )?successful|successful review")
GIVEN_NOT_OUT = re.compile(r"(?:given|umpire says|gives it)\s+not\s+out|\bnot out\b")
GIVEN_OUT = re.compile(
    r"(?:given|umpire gives (?:it|him|her))\s+out\b|\bfinger (?:goes )?up|raises (?:the|his|her) finger"
)

# ---- a chance missed
DROP = _rx(
    r"\b(?:dropped|drops|drop|put down|puts down|puts? it down|spill(?:ed|"
    r"s)?|grass(?:ed|es)|shell(?:ed|s)|floor(?:ed|s))\b(?!\s+(?:it\s+|the "
    r"ball\s+)?(?:short(?!\s+(?:leg|cover|midwicket|mid-?wicket|mid-?on|"
    r"mid-?off|third|fine|extra|point|square))|into|down|in front|dead|at "
    r"(?:his|her) feet|and (?:run|runs|ran)|on a length|in\b))",
    r"\bmiss(?:ed|es)?\s+(?:a\s+|the\s+|an?\s+easy\s+|a\s+simple\s+)?(?:chance|"
    r"catch|sitter|stumping|run[- ]?out|dolly)",
    r"\b(?:chance|catch|stumping|run[- ]?out chance)\s+(?:missed|goes down|"
    r"went down|is put down|goes begging|spurned|not taken|put down|dropped|"
    r"grassed)",
    r"\b(?:fluff(?:s|ed)?|botch(?:es|ed)?|bungl(?:es|ed)|fumbl(?:es|ed)|"
    r"makes? a mess of|misjudg(?:es|ed))\s+(?:the|a|an|an easy|a simple)\s+(?:stumping|"
    r"chance|catch|run[- ]?out)",
    r"\brun[- ]?out (?:chance|opportunity)\b.{0,40}\b(?:throw|keeper|bowler)\s+(?:misses|"
    r"missed|is wide|goes wide|fumbles|fumbled)\b",
    r"\bshould have been (?:a |an )?(?:caught|taken|stumped|run[- ]?out|held)",
    r"\bshould have (?:held|taken|caught)",
    r"\bsurvives? (?:a|the) (?:chance|catch|stumping|run[- ]?out)",
    r"\bcan'?t hold on\b",
    r"\bcould(?:n'?t| not) hold\b",
    r"\bfails to hold\b",
    r"\b(?:can'?t|cannot|could(?:n'?t| not)|fails? to|unable to)\s+(?:hang|cling)\s+on\b",
    r"\bhands? (?:of stone|like a sieve)",
    r"\b(?:bursts?|goes|went|slips?|slipped|squirts?|pops?|popped) (?:through|"
    r"out of|between) (?:[a-z']+ )?(?:hands|fingers)\b",
    r"\bbutter ?fingers",
)
# "reprieve", "let-off" name a drop only when no no-ball or review explains them
DROP_WEAK = re.compile(r"\blet[- ]off\b|\breprieve")

# ---- dismissal kinds (strong cues)
KINDS = [
    (
        "caught and bowled",
        _rx(
            r"\bc\s*(?:&|and|\+)\s*b\b",
            r"\boff (?:his|her) own bowling\b",
            r"\bct? and bowled\b",
            r"\bcaught by the bowler\b",
            r"\bthe bowler (?:takes|holds|pouches|snaffles) (?:it|the catch|a catch)\b",
            r"caught and bowled",
            r"return catch",
            r"caught off (?:his|her) own bowling",
            r"\btakes? it (?:himself|herself)\b",
        ),
    ),
    (
        "stumped",
        _rx(
            r"\bstumped\b",
            r"\(\s*st\s+[a-z]",
            r"(?<![\w'])w\s*\(?\s*st\b",
            r"\bstumps? (?:him|her)\b",
            r"\bst\s+(?:[a-z][\w'.-]*\s+){1,3}b\b",
        ),
    ),
    (
        "run out",
        _rx(
            r"\brun[- ]?out\b",
            r"\bro\b(?!\w)",
            r"\bmankad",
            r"\bdirect hit\b.{0,30}\b(?:gone|out|short)\b",
            r"short of (?:his|her|the) (?:ground|crease)",
        ),
    ),
    ("lbw", _rx(r"\blbw\b", r"\bl\.b\.w\b", r"\bleg before", r"\bplumb\b", r"trapped (?:in front|lbw|on the crease)")),
    (
        "hit wicket",
        _rx(
            r"\bhit[- ]wicket\b",
            r"\bhw\b",
            r"(?:treads|trod|stood|steps|stepped|treading) on (?:his|her|the) stumps",
            r"(?:dislodges|disturbs|knocks off) (?:the|a) bails? with",
        ),
    ),
    ("retired hurt", _rx(r"retire[sd]? hurt", r"\bretires\b")),
    ("retired not out", _rx(r"retired not out")),
    ("retired out", _rx(r"retired out")),
    ("obstructing the field", _rx(r"obstruct(?:ing|ed|s)? the field")),
    ("handled the ball", _rx(r"handled the ball")),
    ("hit the ball twice", _rx(r"hit the ball twice")),
    ("timed out", _rx(r"\btimed out\b")),
    (
        "caught",
        _rx(
            r"\bcaught\b(?!\s+(?:on the crease|on the back foot|on the hop|in(?!\s+the\s+(?:deep|"
            r"ring|outfield|covers|cordon|slips|gully))|out of|napping|short|"
            r"the|in two minds|flat[- ]footed))",
            r"\bct\b",
            r"\bc\s+[+†*]?(?:[a-z][\w'.-]*\s+){1,3}b\s+[a-z]",
            r"\bedged and taken\b",
            r"\bholes? out\b",
            r"\bholed out\b",
            r"\bnicks? off\b",
            r"\b(?:pouched|snaffled|gobbled up|clutched|swallowed|snapped up)\s+(?:at|"
            r"by|in|on|behind|low|high|well|superbly|brilliantly|comfortably|"
            r"easily|safely|at)\b",
            r"\b(?:takes|took|holds|held|completes|pulls off|hangs on to)\s+(?:a|"
            r"an|the)\s+(?:\w+\s+){0,2}(?:catch|grab|blinder|screamer|one[- "
            r"]hander|ripper|stunner|worldie)",
            r"\b(?:good|great|brilliant|superb|sharp|simple|easy|fine|stunning|"
            r"excellent|regulation|screamer of a|what a|outstanding|terrific|"
            r"magnificent|fantastic|wonderful|spectacular|blinder of a|smart|"
            r"tidy|safe|comfortable)\s+catch\b",
            r"(?:^|[.!]\s*)taken\s*!",
            r"\b(?:edges?|edged|nicks?|nicked|feathers?|feathered|gloves?|gloved)\s+(?:it\s+|"
            r"one\s+)?(?:behind|through to (?:the )?keeper|to (?:the )?keeper|"
            r"to (?:first |second |third )?slip|to gully)\b.{0,25}\b(?:taken|"
            r"held|caught|gone|out|pouched|snaffled)",
            r"\bcatch!",
            r"\bwith the catch\b",
            r"\b(?:clings|clung) on\b",
            r"\b(?:at|on) the (?:second|third) attempt\b",
            r"\bdown (?:the )?throat of\b",
            r"(?:\.\.\.|…|\band)\s*(?:it's\s+)?taken\s*!",
            r"\(\s*c\s+[a-z]",
            r"(?:\.\.\.|…|, and|and it's|it's been)\s*taken[.!]*$",
            r"(?<![\w'])w\s*\(?\s*(?:c|ct)\b",
        ),
    ),
    (
        "bowled",
        _rx(
            r"\bclean[- ]?bowled\b",
            r"\bout\s*[,:;!]?\s*b\s+[a-z][\w'.-]+",
            r"\bbwld\b",
            r"\bbowld\b",
            r"\bbwled\b",
            r"\bbowled\s*(?:!|him\b|her\b|'?em\b|neck|through|by\b|for\s+\d|out\b)",
            r"\b(?:is|was|been|gets|get)\s+bowled\b(?!\s+over\b)",
            r"(?:^|[,!.:;]\s*)bowled\b(?!\s+(?:a|an|the|it|short|full|wide|well|"
            r"beautifully|tight|that|this|there|outside|down|into|over|at|to|"
            r"him a|her a)\b)",
            r"(?<!has )(?<!have )(?<!had )(?<!who )\bbowled[.!]*$",
            r"\bcastled\b",
            r"\btimber\b",
            r"\bstumps?\s+(?:shattered|rattled|splayed|flattened|cartwheel\w*|everywhere|broken|knocked)",
            r"(?:knocks?|knocked|takes?|took|sends?|sent|uproots?|hits?|clips?|"
            r"clipped|rattles?|flattens?|pegs?)\s+(?:out\s+|over\s+|back\s+)?(?:the\s+|"
            r"his\s+|her\s+)?(?:off|middle|leg)[- ]?(?:stump|peg|pole)",
            r"\bthrough the gate\b",
            r"\b(?:loses?|lost) (?:his|her) (?:off|middle|leg)[- ]?(?:stump|pole|peg)",
            r"\bloses? (?:his|her) (?:stumps|timber)\b",
            r"\b(?:plays|played|chops|chopped|drags|dragged|inside[- ]edges?|"
            r"inside[- ]edged)\s+(?:it\s+|one\s+)?on(?:to)?\b(?!\s+(?:the\s+)?(?:pad|"
            r"pads|foot|boot|body|side))",
            r"\bcleaned\s+(?:him\s+|her\s+)?up\b",
            r"\bbowls (?!(?:to|a|an|the|it|this|that|short|full|wide|well|quick|"
            r"quicker|fast|slow|slower|his|her|over|round|around|from|in|at|"
            r"into|outside|down|another|one|two|three|four|five|six|maiden|tight|"
            r"spin|seam|leg|off|with|on|straight|back|again|beautifully|superbly|"
            r"nicely)\b)[a-z][\w'.-]+(?: [a-z][\w'.-]+)?[.!]*$",
            r"(?<![\w'])w\s*\(?\s*b\s*\)?(?!\s*[a-z])",
            r"\binto (?:the )?(?:base of )?(?:off|middle|leg)[- ]?(?:stump|pole|peg)",
            r"\bbowls\s+(?:him|her)\b",
        ),
    ),
]
# weak kind cues: they name the kind only when something else says it is a wicket ("... at gully. Out.")
KIND_HINTS = [
    (
        "caught",
        _rx(
            r"\bcatch(?:es)?\b",
            r"\bgloves? it\b",
            r"\b(?:takes|took|taeks|holds|held|grabs|pouches|snaffles|gathers|hangs on to) (?:it|the catch|one)\b",
            r"\btaken\b",
            r"\bedged\b",
            r"\bnicked\b",
            r"\bskied\b",
            r"\bskies\b",
            r"\bin the air\b",
            r"\btop[- ]edged?\b",
            r"\b(?:underneath|under) it\b",
            r"\bcaught behind\b",
            r"\bbat[- ]pad\b",
            r"\b(?:clings?|clung|hangs?|hung|holds?|held) on\b",
            r"\bgobbles?\b",
            r"\b(?:chips?|chipped|spoons?|spooned|fends?|lobs?|lobbed|scoops?|"
            r"skies|hits?|hit) it (?:straight )?(?:to|up)\b",
            r"\b(?:nicks?|edges?|gloves?|feathers?)\s+(?:it\s+|one\s+)?(?:to|behind|off)\b",
        ),
    ),
    ("bowled", _rx(r"\bstumps\b", r"\b(?:off|middle|leg)[- ]stump\b", r"\bbails\b", r"\btop of (?:off|middle|leg)\b")),
    ("lbw", _rx(r"\blbw\b", r"\bleg before\b", r"\bthree reds\b", r"\bball[- ]tracking\b", r"\bhawk[- ]?eye\b")),
    ("run out", _rx(r"\bmix[- ]?up\b", r"\bsame end\b", r"\byards short\b", r"\bdirect hit\b", r"\brun[- ]?out\b")),
]
# an "out" that ends a sentence is a dismissal, unless it is "arms out", "keeps it out", "steps out"...
NOT_AFTER = "".join(
    f"(?<!{w} )"
    for w in (
        "arms",
        "arm",
        "hands",
        "it",
        "that",
        "one",
        "them",
        "way",
        "back",
        "ball",
        "steps",
        "comes",
        "came",
        "stepped",
        "dances",
        "charges",
        "spread",
        "stuck",
        "sticks",
        "holds",
        "pushes",
        "straight",
        "far",
        "miles",
        "long",
        "inside",
        "left",
    )
)
# "out of the attack", "out of his crease", "out comes the physio", "out there": this "out" leads on, it is no dismissal
ON = (
    r"(?!\s+(?:of|there|here|comes?|came|walks?|go(?:es)? the (?:arms?|hands?)|go(?:es)? (?:his|her) (?:arms?|hands?)|"
    r"into|onto|to bat|in the middle|and about|front|side|loud)\b)"
)
WICKET = _rx(
    r"\bwicket\s*!",
    r"^wicket\b",
    r"\b(?:takes|gets|claims|picks up|grabs|another|big|huge|key|vital|crucial|"
    r"precious|first|a)\s+(?:the\s+)?wicket\b(?!\s*(?:is|was|looks|has))",
    r"\bwicket (?:falls|for)\b",
    r"(?<!ball )(?<!it's )(?<!its )(?<!has )(?<!have )(?<!had )(?<!light "
    r")\bgone\b(?!\s+(?:for|all|over|to|past|down|up|through|into|away|wide|"
    r"miles|the distance|a long way|\d|"
    r"soft|flat|dark|quiet|missing|wrong|out of|off|in|back|round|around|"
    r"by|on|under|well|badly|very|so|too|a bit|a little))",
    r"\b(?:and|off)\s+(?:he|she)\s+goes\b",
    r"\bhas to (?:go|walk|leave|depart)\b",
    r"\b(?:wicket|out|decision of out) stands\b",
    r"\b(?:gone|goes|went|out|falls|fell|departs|dismissed|perishes)\s+for\s+(?:a\s+(?:golden\s+|"
    r"diamond\s+|royal\s+)?duck|nought|zero|a pair)",
    r"\b(?:gone|out|falls|fell|departs|dismissed|perishes)\s+for\s+\d{2,3}\b",
    r"\bbails (?:go |went |are )?flying\b",
    r"\b(?:takes|took|clips|clipped|hits|kisses|kissed) the top of (?:off|"
    r"middle|leg)\b(?!\s+and\s+(?:goes|went|flies|runs|carries))",
    r"\b(?:he|she)(?:'s| is) walking\b(?!\s+(?:across|down|out|in|to|back|off for))",
    r"(?:^|[.!,;:]\s*)given\s*!",
    r"\bthree reds\b",
    r"\bdeparts?\b",
    r"\bdismiss(?:ed|es|al)\b",
    r"\bsent (?:back|packing)\b",
    r"\bon (?:his|her) way\b",
    r"\bbreakthrough\b",
    r"\b(?:is|he's|she's|that's|thats|and|caught|bowled|gets)\s+out\b" + ON,
    r"(?:^|[.!?]\s+)out\b" + ON,
    r"\bout\s*!",
    r"\bout\s*\(",
    r"(?:^|[,;:])\s*out\s*(?:[,;:!.]|$)",
    NOT_AFTER + r"\bout[.]*$",
    NOT_AFTER + r"\bout\.(?=\s|\.)",
    r"\bout\s+(?:lbw|caught|bowled|stumped)\b",
    r"\bout\s+for\s+(?:\d|a duck|a golden duck|nought|zero|a pair|nothing)",
    r"\bfalls for\b",
    r"\bperishes\b",
    r"\bstrikes(?:\s+(?:again|first|back))?[.!]*$",
    r"(?<!out )(?<!in )\bwalks\b(?!\s+(?:out|in|to|across|back|down|off for))",
    r"\bgot (?:him|her)\b(?=\s*(?:[!.,;]|$|now\b|there\b|again\b|at last\b|with\b))",
)
WICKET_NEG = _rx(
    r"(?<!retired )\bnot out\b",
    r"\bsurviv",
    r"\breprieve",
    r"\blives\b",
    r"\blet[- ]off\b",
    r"\bescapes?\b",
    r"\bturned down\b",
    r"\bappeal\s+(?:is\s+)?(?:rejected|denied|declined)",
    r"\bno wicket\b",
    r"\bnot given\b",
    r"\bumpire says no\b",
    r"\bwould(?:'ve| have)\b",
    r"\bnearly\b",
    r"\balmost\b",
    r"\bclose call\b",
    r"\bjust (?:wide|over|past|short|clear)",
    r"\bnot (?:gone|bowled|caught|stumped|run out|lbw)\b",
    r"\bmisses (?:the )?stumps\b",
    r"\bover the stumps\b",
    r"\bdoesn'?t carry\b",
    r"\bfalls short of\b",
    r"\bbumped\b",
    r"\bbump ball\b",
    r"\bon the (?:first )?bounce\b",
    r"\bon the half[- ]volley\b",
    r"\b(?:he|she)(?:'s| is| was) (?:in|home|safe|back in time)\b",
    r"\bmade (?:his|her) ground\b",
    r"\b(?:in|home) (?:comfortably|easily|safely|by a (?:distance|mile|yard|whisker))\b",
    r"\bsafely (?:in|home)\b",
    r"\b(?:doesn'?t|does not|won'?t|didn'?t) count\b",
    r"\bnot quite\b",
    r"\b(?:spectator|fan|supporter|crowd|kid|boy|girl|someone in the (?:crowd|"
    r"stands))\s+(?:catch|takes|took|holds|held|grabs|pouches|pockets)",
    r"\b(?:catch|caught|taken|held)\s+(?:\w+\s+){0,3}(?:by|in) (?:a|the) (?:spectator|fan|supporter|crowd|stands)\b",
    r"\bmiss(?:es|ed)\s+(?:the\s+)?(?:off\s+|leg\s+|middle\s+)?(?:stumps?|bails|pole|peg)\b",
    r"\b(?:foot|feet|boot|heel|toe)\b.{0,25}\b(?:touch(?:es|ed)?|on|brush(?:es|"
    r"ed)?|graz(?:es|ed)|clips?|clipped)\s+(?:the\s+)?(?:rope|ropes|boundary|"
    r"cushion)",
    r"\b(?:stepped|steps|treads|trod|touched|touches|brushes|brushed) (?:on "
    r")?(?:the )?(?:rope|ropes|boundary (?:rope|cushion))\b",
)
# a hedge takes back the cue right after it: "would have been six", "almost caught", "looked like four"
HEDGE = re.compile(
    r"\b(?:(?:would|should)(?: have|'ve)(?: been)?|could(?: have|'ve)(?: "
    r"been)?|almost|nearly|looked like|looks like|thought it was|not quite|"
    r"so close to|"
    r"just short of|inches (?:short of|from)|for a moment)\s+(?:it's\s+|a\s+|an\s+|another\s+|been\s+)?"
    r"(?:six|four|boundary|maximum|out|wicket|caught|bowled|stumped|run out|lbw|gone|taken)\b"
)
# an appeal or a chance names a kind without saying it happened ("run-out appeal, but she's in")
APPEAL = re.compile(
    r"\b(?:appeal|appeals|appealing|shout|shouts|cry|referral|check|chance|"
    r"attempt|opportunity|half[- ]chance)\s+(?:for|of)\s+(?:a\s+|an\s+)?"
    r"(?:lbw|leg before|caught behind|catch|run[- ]?out|stumping|stumped)\b|"
    r"\b(?:lbw|leg before|caught behind|run[- ]?out|stumping)\s+(?:appeal|"
    r"shout|chance|attempt|referral|review|check|opportunity|call)s?\b"
)
# a take that is no catch: the keeper gathering a leave, a ball on the bounce, a blow on the body
NO_CATCH = re.compile(
    r"\b(?:on the (?:first )?bounce|half[- ]volley|bump ball|left alone|"
    r"leaves?|leave|shoulders? arms|beaten|beats|misses|missed|played and "
    r"missed|"
    r"swing and a miss|no shot|standing up|blow|on the (?:pads?|body|thigh|"
    r"hip|helmet|glove|arm|shoulder|chest|boot|foot|knee))\b"
)
EDGED = re.compile(
    r"\b(?:edged|edges?|nicked|nicks?|feathered|feathers?|gloved|gloves?|"
    r"tickled|top[- ]edged?|skied|skies|skie?s? it|lofted|in the air|uppish|"
    r"chips?|chipped|spoons?|spooned|miscued?|mistimed|holes?|toe[- ]ended)\b"
)
TAKE_AT = re.compile(
    r"\b(?:taken|held)\s+(?:at|by|in|behind|low|high|well|superbly|brilliantly|comfortably|easily|safely|"
    r"on the (?:boundary|rope|fence|run|dive|second attempt|move|edge of the (?:circle|rope)))\b"
)
TAKE_IT = _rx(
    r"\b(?:keeper|slip|gully|fielder|bowler)\s+(?:takes|holds|pouches|snaffles|gobbles|catches|does the rest)\b",
    r"\b(?:holds|hangs|held|hung) on\b(?!\s+to (?:his|her|the) (?:wicket|bat))",
    r"\b(?:and|to) (?:takes?|holds?|catch(?:es)?|pouch(?:es)?) (?:it|on)\b",
)
KEEPER = re.compile(r"\b(?:keeper|wk|keeping|gloveman|glovewoman)\b")

# ---- runs and extras
SAVED = re.compile(
    r"\b(?:saved|saves|stopped|stops|cut off|cuts off|prevents?|prevented|"
    r"fielded|keeps? it to|hauled back|pulls? back|dragged back|held up)\b"
)
SIX = _rx(
    r"\bsix\b(?!\s+(?:byes|leg|wides|no))",
    r"\bsixer\b",
    r"\bmaximum\b(?!\s+of)",
    r"\bover the (?:ropes?|fence|boundary|sightscreen)",
    r"\binto the (?:stands?|crowd|car park|roof|second tier|sightscreen|top tier|river|trees|members)",
    r"\b(?:lands?|landed|landing) in the (?:stands?|crowd|car park|second tier|top tier)",
    r"\bout of the (?:ground|park|stadium)",
    r"\bclears? the (?:ropes?|fence|boundary|rope)\b",
    r"\bonto the roof",
    r"\bsix!",
)
FOUR = _rx(
    r"\bfour\b(?!\s+(?:byes|leg|wides|no))",
    r"\b(?:for|a|another|the)\s+boundary\b(?!\s*(?:rider|fielder|edge|line|catch))",
    r"^boundary\b",
    r"(?:^|[,;:.]\s*)boundary[.!]*$",
    r"\bboundary\s*!",
    r"\bto the (?:[\w-]+\s+){0,2}(?:fence|ropes?|boundary|advertising|hoardings)\b",
    r"\b(?:hits?|reaches?|beats?|finds?) the (?:fence|ropes?|boundary)",
    r"\b(?:races?|raced|runs?|ran|speeds?|sped|rolls?|rolled|runs? away|"
    r"rockets?|zips?|scorches?|flies|flew)\s+(?:away\s+)?(?:to|into|over)\s+the\s+(?:[\w-]+\s+){0,2}(?:fence|"
    r"ropes?|boundary|advertising)",
    r"\bone bounce\b",
    r"\bbounces? (?:once )?(?:over|before|into) the (?:rope|ropes|fence)",
    r"\bfour!",
)
ALL_RUN = re.compile(
    r"\ball[- ]run\b(?:\s+(?:four|4|five|5|three|3))?|\b(?:all[- ]run|run "
    r"all|they run|ran|they ran)\s+(?:four|4|five|5)\b|\b(?:four|4|five|"
    r"5)\s+all[- ]run\b"
)
WIDE = _rx(
    r"\bwides?\b(?=\s*(?:[.!,;:()~]|\d+\s*$|$|called|signalled|given|down|from|as|and\s+(?:\d|one|two|they)))",
    r"\bwides\b",
    r"\bwd\b",
    r"\b\d+\s*wd\b",
    r"\b\d+\s*w\b",
    r"\b(?:a|another|called|signalled|signals|given|bowls a|sprays a|that's a|it's a)\s+wide\b",
    r"\bwide ball\b",
)
NOBALL = _rx(
    r"\bno[- ]?balls?\b",
    r"\bnb\b",
    r"\b\d+\s*nbs?\b",
    r"\boversteps?\b",
    r"\boverstepped\b",
    r"\bfront[- ]foot (?:no|fault)",
    r"(?<!^)(?<!on the )(?<!off the )(?<!from the )\bfree[- ]hit\b(?!\s*:)(?!\s*(?:wasted|"
    r"ball|delivery|squandered|missed|gone begging|,\s*(?:and\s+)?(?:he|"
    r"she|the batter)\b))",
    r"\bbeamer\b.{0,30}\bcalled\b",
)
LEGBYES = _rx(
    r"\bleg[- ]?byes?\b",
    r"\blegbyes?\b",
    r"\blb\b",
    r"\b\d+\s*lbs?\b",
    r"\boff the (?:pads?|thigh|hip|body|glove-less)\b.{0,20}\bbye",
)
BYES = _rx(r"(?<!leg )(?<!leg-)\bbyes?\b", r"\b\d+\s*b\b")
DOT = _rx(
    r"\bno runs?\b",
    r"\bdot(?:\s+ball)?\b",
    r"\bdefend(?:s|ed)?\b",
    r"\bblock(?:s|ed)?\b",
    r"\bleft alone\b",
    r"\bleaves? (?:it|alone|the ball|one)\b",
    r"\b(?:one|it|that|ball) is left\b",
    r"\bpast the (?:outside |inside )?edge\b",
    r"\bwell left\b",
    r"\bshoulders? arms\b",
    r"\bleaves [a-z][\w'.-]*(?: [a-z][\w'.-]*)? alone\b",
    r"\blets? (?:it|that) go\b",
    r"\bbeaten\b(?!\s+by the throw)",
    r"\bbeats the (?:bat|outside edge|inside edge|edge)\b",
    r"\bplays? and miss(?:es)?\b",
    r"\bbeats [a-z][\w'.-]*(?: [a-z][\w'.-]*)? (?:outside off|all ends up|"
    r"on the inside|past the edge|for pace|in the flight|with (?:one|a))",
    r"\bplayed and missed\b",
    r"\bswing and a miss\b",
    r"\bstraight to (?:the )?(?:fielder|cover|mid|point|short|gully|slip|the keeper|bowler|extra)",
    r"\bdead bat\b",
    r"\bsmother(?:s|ed)?\b",
    r"\b(?:played|plays|pushed|pushes|patted|pats|tapped|taps|defended|defends|"
    r"driven|drives|hit|hits|blocked|blocks) (?:straight |firmly |softly "
    r")?back to the bowler\b",
    r"\bkee(?:ps?|pt) (?:it |that |one )?out\b",
    r"\bdug out\b",
    r"\bleave\b(?!\s+(?:the field|to|it to))",
    r"\bdefen[cs]e\b",
    r"\bdefensive\b",
    r"\bpadd?(?:ed|s)? (?:it )?away\b",
    r"\bno shot\b",
    r"(?<!a )(?<!golden )(?<!diamond )(?<!royal )\bducks?\b(?!\s+(?:out|for))",
    r"\bducked\b",
    r"\bsways?\b",
    r"\bmaiden\b(?!\s+(?:fifty|hundred|century|ton|test))",
    r"\bkeeper (?:gathers|collects)\b",
    r"\bbouncer,? (?:left|ducked)\b",
    r"\bnothing (?:doing|off it)\b",
    r"\bmiss(?:es|ed)\b(?!\s+(?:a|the|an)\s+(?:chance|catch))",
)
RUNS = [
    (
        3,
        _rx(
            r"\bthree\b(?!\s+(?:overs?|balls?|wickets?|fielders?|slips?))",
            r"\b3 runs?\b",
            r"\bcome back for (?:the )?third\b",
            r"\bcomes back for (?:the )?third\b",
        ),
    ),
    (
        2,
        _rx(
            r"\btwo\b(?!\s+(?:overs?|balls?|wickets?|fielders?|slips?|hands|men|short))",
            r"\bcouple\b",
            r"\b2 runs\b",
            r"\b(?:comes?|came|coming) back for (?:the )?(?:second|two|2)\b",
            r"\bsecond run\b",
            r"\bruns? two\b",
            r"\ba brace\b",
        ),
    ),
    (
        1,
        _rx(
            r"^\s*one[.!]?\s*$",
            r"\bsingle\b",
            r"\bruns? (?:one|a single)\b",
            r"\b(?:one|1|a) run\b",
            r"\bjust the one\b",
            r"\bfor one\b",
            r"\btakes? one\b",
            r"\bone more\b",
            r"\b(?:steals|sneaks|pinches|grabs|scampers|scamper|scampered|scurry|"
            r"scurries|hurried|hurries)\b(?!\s+(?:by|into|him|her))",
            r"\brotates? the strike\b",
            r"\bnicks (?:a|one|another) (?:single|run|quick)",
            r"^one for\b",
            r"\bone for [a-z][\w'.-]*,",
            r"\b(?:picks? up|gets?|takes?|adds?|nabs?) (?:one|a single|a run)\b",
            r"\b(?:they|and)\s+(?:got|get|take|took)\s+(?:one|a single|a run)\b",
            r"\bstrike rotated\b",
            r"\bquick one\b",
            r"\bgets off the mark\b",
            r"\boff the mark\b",
        ),
    ),
]
DIGIT = re.compile(r"(?<![\w./-])([0-7])(?![\w./-]|\s*[-/]\s*\d)")
BIG = re.compile(r"\b\d{2,}\b")
BALL_TOKEN = r"(?:[0-7]|\.|•|w|wd|nb|lb|[1-7](?:wd|nb|lb|b|w))"
MANY_BALLS = re.compile(r"(?:^|(?<=[\s:]))" + BALL_TOKEN + r"(?:\s+" + BALL_TOKEN + r"){2,}(?=\s|$|[,;|])")
OVER_SUMMARY = re.compile(
    r"\bover\s+(?:went|goes|cost|costs|yielded|yields|brought|produced)\b|"
    r"\bin (?:that|the|this) over\b|\b(?:from|off) (?:the|that) over\b"
)
THIS_BALL = re.compile(r"\bthis (?:one|ball|delivery|time)\b|\bnow\b|\bhere\b|\bto (?:end|finish|close) the over\b")
SHORT_W = re.compile(r"(?<![\w'])W(?![\w'])(?!\s+[A-Z][a-z])")

# ---- flags
DAY_START = _rx(
    r"\bstart of (?:play|the day|day|the day's play)\b",
    r"^\s*day\s+(?:\d+|one|two|three|four|five)\b",
    r"\bday\s+(?:\d+|one|two|three|four|five)\b.{0,30}\b(?:begins|starts|under ?way|first ball|morning)",
    r"\bfirst ball of the day\b",
    r"\bgood morning\b",
    r"\bmorning,? (?:everyone|all)\b",
    r"\bplay (?:is )?under ?way\b",
    r"\bplay (?:begins|starts|resumes) (?:on|for) (?:the )?day\b",
    r"\bopening ball of the day\b",
)
MILESTONE = re.compile(
    r"(?:\b(?:reach(?:es|ed)?|brings? up|brought up|got|gets|has got|raises?|"
    r"gets? to|completes?|notch(?:es)? up|registers?|to reach|posts?|makes?|"
    r"scores?|celebrates?)\s+"
    r"(?:(?:his|her|a|the|their|an?)\s+)?(?:(?:maiden|first|second|third|"
    r"\w+th|\d+(?:st|nd|rd|th)|test|odi|t20i?|well[- ]deserved|brilliant|"
    r"fine)\s+)*"
    r"(?P<m1>fifty|50|half[- ]century|hundred|100|century|ton|double (?:hundred|"
    r"century|ton)|200|150|triple (?:hundred|century)|300|five[- ]for|fifer|"
    r"five[- ]wicket haul|5[- ]wicket haul|5[- ]for|five wickets|5 wickets))"
    r"|(?P<m2>\b(?:takes|completes|has|gets|grabs|picks up|claims)\s+(?:his\s+|"
    r"her\s+)?(?:five|5)\b(?!\s*(?:runs?|overs?|balls?|byes|wides))|\b(?:fifty|"
    r"50|100|hundred|century|ton|150|200)\s+(?:up|partnership|stand)\b|\bhalf[- "
    r"]century\b|\bcentury\b|\bfive[- ]for\b|\bfifer\b|\bfive[- ]wicket "
    r"haul\b|\bmaiden (?:fifty|hundred|ton|century)\b)"
)
HAT_TRICK = re.compile(r"\bhat[- ]?trick\b")
NEW_BATTER = re.compile(
    r"\bnew (?:batter|batsman|batswoman|man|woman|player|face) (?:in|at "
    r"the crease|to the crease|walks|comes)|\bcomes (?:in|out) to bat\b|"
    r"\bwalks out to bat\b|\bfirst ball (?:faced|of (?:his|her) innings)\b|"
    r"\barrives at the crease\b|\bnew batter\b"
)
REVIEW = re.compile(r"\breview|\bdrs\b|\bupstairs\b|\bthird umpire\b|\btv umpire\b|\bumpire'?s call\b")


def _milestone_kind(word: str) -> str:
    w = word.lower()
    for key, name in (
        ("double", "double hundred"),
        ("triple", "triple hundred"),
        ("200", "double hundred"),
        ("300", "triple hundred"),
        ("150", "150"),
        ("partnership", "partnership"),
        ("stand", "partnership"),
        ("up", "team milestone"),
        ("fifty", "fifty"),
        ("50", "fifty"),
        ("half", "fifty"),
        ("five", "five-wicket haul"),
        ("5", "five-wicket haul"),
        ("fifer", "five-wicket haul"),
    ):
        if key in w:
            if key in ("partnership", "stand", "up"):
                return ("fifty " if ("fifty" in w or "50" in w) else "hundred ") + name if key != "up" else w
            return name
    return "hundred"


# ---- names
NAME = r"[A-Za-z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2}"
TO_LINE = re.compile(
    r"(?:^|[.:;!?]\s+)\s*(?:\d{1,3}\.\d\s*[:,-]?\s*)?(?P<bowler>"
    + NAME
    + r")(?:\s+(?:to|2)\s+|\s*(?:>|->|→)\s*)(?P<batter>[A-Za-z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2})"
)
SCORECARD = re.compile(
    r"(?P<out>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)?)\s+(?P<how>c\s*&\s*b|"
    r"c\s+and\s+b|c\s+[+†*]?(?P<f>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2}?)\s+b|"
    r"st\s+[+†*]?(?P<k>[A-Z][\w'’.-]*)\s+b|lbw\s+b|b|hit wicket\s+b|hw\s+b)\s+(?P<bowler>(?:(?:van|"
    r"de|du|der|da|von|le|la|ul)\s+)?[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]{2,})?)"
)
CARD_KIND = {"c": "caught", "st": "stumped", "lbw": "lbw", "b": "bowled", "hit": "hit wicket", "hw": "hit wicket"}
BY_FIELDER = re.compile(
    r"\b(?:caught|dropped|put down|taken|held|grassed|spilled|stumped|missed)\s+(?:by|"
    r"at \w+ by)\s+(?P<f>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)?)"
)
SUBJECT = re.compile(
    r"^\s*(?:\d{1,3}\.\d\s*)?(?P<n>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+)?)\s+(?:is|"
    r"was|has|drives|cuts|pulls|hooks|sweeps|flicks|smashes|hits|slogs|lofts|"
    r"edges|nicks|launches|clips|plays|defends|leaves|goes|departs|survives|"
    r"reaches|brings|gets|takes|steers|guides|glances|works|pushes|punches|"
    r"blocks|scoops|ramps|reverse)\b"
)
NOT_NAMES = {
    "what",
    "the",
    "a",
    "an",
    "and",
    "dropped",
    "four",
    "six",
    "out",
    "wide",
    "no",
    "big",
    "huge",
    "lovely",
    "great",
    "good",
    "day",
    "that",
    "this",
    "it",
    "he",
    "she",
    "there",
    "oh",
    "wicket",
    "bowled",
    "caught",
    "lbw",
    "stumped",
    "run",
    "start",
    "free",
    "beaten",
    "edged",
    "edge",
    "short",
    "full",
    "another",
    "single",
    "dot",
    "boundary",
    "maximum",
    "gone",
    "plumb",
    "review",
    "not",
    "appeal",
    "overthrows",
    "played",
    "shot",
    "ball",
    "first",
    "last",
    "new",
    "drinks",
    "wd",
    "nb",
    "lb",
    "back",
    "up",
    "off",
    "on",
    "down",
    "what's",
    "that's",
    "play",
    "over",
    "end",
    "tea",
    "lunch",
    "stumps",
    "slip",
    "keeper",
    "is",
    "was",
}


def _name(n: str | None) -> str | None:
    if not n:
        return None
    n = n.strip(" .,'’-")
    words = n.split()
    while words and words[-1].lower() in NOT_NAMES:
        words.pop()
    if not words or words[0].lower() in NOT_NAMES or len(n) < 2 or n == "W":
        return None
    return " ".join(words)


def _names(text: str) -> dict:
    out: dict = {}
    m = TO_LINE.search(text)
    if m:
        out["bowler"], out["batter"] = _name(m.group("bowler")), _name(m.group("batter"))
    m = SCORECARD.search(text)
    if m and _name(m.group("out")) and _name(m.group("bowler")):
        out["player_out"], out["bowler"] = _name(m.group("out")), _name(m.group("bowler"))
        out.setdefault("batter", out["player_out"])
        f = m.group("f") or m.group("k")
        if f:
            out["fielder"] = _name(f)
    m = BY_FIELDER.search(text)
    if m and _name(m.group("f")):
        out.setdefault("fielder", _name(m.group("f")))
    if not out.get("batter"):
        m = SUBJECT.search(text)
        if m and _name(m.group("n")):
            out["batter"] = _name(m.group("n"))
    return {k: v for k, v in out.items() if v}


def _count(pattern_text: str, default: int) -> int:
    m = re.search(r"\b(\d|one|two|three|four|five|a|single|couple)\b", pattern_text)
    if not m:
        return default
    w = m.group(1)
    return int(w) if w.isdigit() else NUM_WORDS.get(w, default)


# ---- typos: a word one slip away from a cue word is read as that word ("cauht", "wikcet", "dopped")
TYPO_TARGETS = (
    "caught",
    "bowled",
    "wicket",
    "dropped",
    "stumped",
    "timed",
    "retired",
    "twice",
    "catches",
    "catch",
    "boundary",
    "single",
    "couple",
    "maximum",
    "plumb",
    "edged",
    "taken",
    "defended",
    "blocked",
    "beaten",
    "spilled",
    "grassed",
    "overturned",
    "reprieve",
    "legbye",
    "legbyes",
    "defence",
    "alone",
    "misses",
    "leaves",
    "beats",
    "holes",
    "defends",
    "short",
    "takes",
    "survives",
    "keeps",
    "appeal",
    "review",
    "obstructing",
    "handled",
    "stumps",
)
REAL_WORDS = {
    "bowler",
    "bowlers",
    "bowling",
    "bowls",
    "catcher",
    "catchy",
    "wickets",
    "times",
    "tied",
    "timid",
    "match",
    "patch",
    "latch",
    "hatch",
    "batch",
    "watch",
    "taker",
    "shorts",
    "shirt",
    "shot",
    "hole",
    "holds",
    "edges",
    "edge",
    "edger",
    "keep",
    "keen",
    "peeks",
    "single",
    "singles",
    "singled",
    "couples",
    "coupled",
    "beater",
    "stump",
    "tired",
    "retire",
    "twine",
    "caughts",
    "plum",
    "boundar",
    "dropper",
    "beast",
    "leaver",
    "stamped",
    "stomped",
    "blocker",
    "spilt",
    "review",
    "reviews",
    "appeals",
    "handed",
    "handles",
    "maxim",
}


def _one_slip(a: str, b: str) -> bool:
    """Damerau distance 1 (insert, delete, swap; substitute only in long words)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return True
        return len(diff) == 1 and len(b) >= 7
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1 :]


@lru_cache(maxsize=4096)
def _fix_word(w: str) -> str:
    if len(w) < 5 or w in REAL_WORDS or w in TYPO_TARGETS:  # 4-letter words are too often real ("take", "time")
        return w
    return next((t for t in TYPO_TARGETS if len(t) >= 5 and _one_slip(w, t)), w)


CONTRACTION = re.compile(r"\b(should|would|could|must|might)'ve\b", re.IGNORECASE)
WOULD = re.compile(r"\b(\w+)'d (have|be)\b", re.IGNORECASE)  # "it'd have been six" reads as "it would have been six"


def _short_slips(words: tuple[str, ...]) -> dict:
    """Swapped or doubled letters in short outcome words ("fuor", "sixx", "wdie"): safe, unlike other 4-letter slips."""
    out = {}
    for w in words:
        for i in range(len(w) - 1):
            out[w[:i] + w[i + 1] + w[i] + w[i + 2 :]] = w
        for i in range(len(w)):
            out[w[: i + 1] + w[i] + w[i + 1 :]] = w
    return {k: v for k, v in out.items() if k != v}


SHORT_SLIPS = _short_slips(("four", "six", "wide", "wides", "byes"))
ABBREVIATIONS = {
    "bdry": "boundary",
    "bndry": "boundary",
    "bwld": "bowled",
    "bwd": "bowled",
    "wkt": "wicket",
    "wkts": "wickets",
    "rns": "runs",
    "rn": "run",
    "thru": "through",
}


def _fix_typos(low: str) -> str:
    low = re.sub(r"\b(?:bdry|bndry|bwld|bwd|wkts?|rns|rn|thru)\b", lambda m: ABBREVIATIONS[m.group(0)], low)
    low = re.sub(r"\bmid[- ]wicket\b", "midwicket", low)  # a fielding position: one word, so no "wicket" cue
    low = re.sub(r"\b[a-z]{3,6}\b", lambda m: SHORT_SLIPS.get(m.group(0), m.group(0)), low)
    return re.sub(r"[a-z]{5,}", lambda m: _fix_word(m.group(0)), low)


def read(text: str) -> Canonical:
    raw = " ".join(text.replace("’", "'").replace("–", "-").replace("—", "-").split())
    raw = WOULD.sub(
        r"\1 would \2", CONTRACTION.sub(r"\1 have", raw)
    )  # "should've been run out" reads as "should have been ..."
    low = _fix_typos(raw.lower())
    # capitalised cues (OUT, FOUR, SIX) mean nothing in a line that is all capitals: read it as lower case
    cap = "" if raw.isupper() and sum(c.isalpha() for c in raw) >= 12 else raw
    flags = {
        "day_start": bool(DAY_START.search(low)),
        "hat_trick_ball": bool(HAT_TRICK.search(low)),
        "new_batter": bool(NEW_BATTER.search(low)),
    }
    ms = MILESTONE.search(low)
    names = _names(raw)
    if ms:
        kind = _milestone_kind(ms.group("m1") or ms.group("m2"))
        who = names.get("batter") if "wicket" not in kind else names.get("bowler")
        flags["milestone"] = f"{who} {kind}" if who else kind
    if REVIEW.search(low):
        flags["review"] = (
            "umpire's call"
            if "umpire's call" in low or "umpires call" in low
            else "upheld"
            if OVERTURNED.search(low)
            else "struck down"
            if re.search(r"struck down|review lost|loses? the review|unsuccessful|stays|stands|wasted", low)
            else "review"
        )

    s = MASKS.sub(" ~ ", low[: ms.start()] + " ~ " + low[ms.end() :] if ms else low)
    s = re.sub(r"(?:\s*~)+\s*$", "", s)  # a trailing score or milestone: let "... bowled 38/3" end with "bowled"
    caps_out = bool(re.search(r"(?<![A-Za-z])OUT(?![A-Za-z])", cap)) and not re.search(r"NOT OUT", cap)
    short_w = bool(SHORT_W.search(raw))
    sh = HEDGE.sub(" ~ ", s)  # "would have been six", "almost caught": the cue is taken back
    sk = APPEAL.sub(" ~ ", sh)  # "run-out appeal": a kind named, not a kind that happened

    kinds = [k for k, rx in KINDS if rx.search(sk)]
    if "caught" not in kinds and _caught_take(sk):
        kinds.append("caught")
    card = SCORECARD.search(raw)
    if card and not kinds and _name(card.group("out")):
        how = card.group("how").lower()
        kinds = ["caught and bowled" if ("&" in how or " and " in how) else CARD_KIND.get(how.split()[0], "bowled")]
    generic = (
        bool(WICKET.search(sk))
        or caps_out
        or short_w
        or bool(re.search(r"(?<![A-Za-z])(?:WICKET|BOWLED|GONE)(?![A-Za-z])", cap))
    )
    neg = bool(WICKET_NEG.search(s)) and not caps_out and not short_w
    # a decision overturned on review flips the umpire's call
    overturned = OVERTURNED.search(s)
    if overturned:
        # a verdict said after the overturn is final ("given out ..., decision overturned, not out");
        # otherwise the on-field call said before it is flipped
        before, after = s[: overturned.start()], s[overturned.end() :]
        final = (
            False
            if re.search(r"\bnot out\b", after)
            else True
            if re.search(r"\bout\b", after)
            else True
            if GIVEN_NOT_OUT.search(before)
            else False
            if GIVEN_OUT.search(before)
            else None
        )
        if final is True:
            neg, generic = False, True
        elif final is False:
            neg, generic, kinds = True, False, []
    elif GIVEN_OUT.search(s) and not neg:
        generic = True
    if (
        generic
        and not (kinds or caps_out or short_w)
        and (SIX.search(sh) or FOUR.search(sh))
        and not WICKET.search(re.sub(r"\bgone\b", " ~ ", sk))
    ):
        generic = False  # "Gone! Over the sightscreen, six": a lone "gone" next to a boundary is the ball going
    verdict, tail = _last_word(sk)
    if (
        verdict is not None
    ):  # after a review or a correction the last word counts ("given not out ... three reds, he's gone")
        neg, generic = (False, True) if verdict else (True, generic)
    if NOBALL.search(s) and not any(k in LEGAL_OFF_NOBALL for k in kinds):
        neg = True  # "Bowled him! But it's a no-ball": only run outs and the like count off a no-ball
    drop = bool(DROP.search(s)) or bool(
        DROP_WEAK.search(s) and not NOBALL.search(s) and not REVIEW.search(s) and not OVERTURNED.search(s)
    )
    if drop and verdict and not DROP.search(tail):
        drop = False  # "Dropped... no, he's caught it at the second attempt"
    base = dict(names, **flags)
    if MANY_BALLS.search(low) or (OVER_SUMMARY.search(low) and not THIS_BALL.search(low)):
        return Canonical(outcome="unclear", confident=False, **base)  # several balls in one line, or a whole over

    if drop:
        cue = (DROP.search(s) or DROP_WEAK.search(s)).group(0)
        # a run out or stumping beside a dropped catch is a second story; beside "missed run out" it is the drop itself
        hard = [
            k
            for k in kinds
            if k not in ("caught", "caught and bowled")
            and not (k == "run out" and "run" in cue)
            and not (k == "stumped" and "stump" in cue)
        ]
        if (hard or caps_out or short_w) and not neg:
            return Canonical(outcome="unclear", confident=False, **base)
        runs = _runs(sh, cap)
        return Canonical(
            outcome="dropped", runs=runs[1] if runs and runs[0] in ("runs", "four", "six") else None, **base
        )
    if (kinds or generic) and not neg and re.search(r"(?<![A-Za-z])(?:FOUR|SIX)(?![A-Za-z])", cap):
        return Canonical(outcome="unclear", confident=False, **base)  # "SIX ... caught on the boundary?": two stories
    if (kinds or generic) and not neg:
        kind = kinds[0] if len(kinds) == 1 else _pick_kind(kinds)
        if kind is None:
            hints = [k for k, rx in KIND_HINTS if rx.search(s)]
            if "run out" in hints and "bowled" in hints:
                hints.remove("bowled")  # the bails come off in a run out too
            kind = hints[0] if len(hints) == 1 else None
        ex = _extras(s)
        if ex and kind and kind not in (LEGAL_OFF_WIDE if ex[0] == "wides" else LEGAL_OFF_NOBALL):
            # the Laws: nobody is caught, bowled or lbw off a wide, a bye or a leg bye; two stories, so say nothing
            return Canonical(outcome="unclear", confident=False, **base)
        base.setdefault("player_out", names.get("batter"))
        return Canonical(
            outcome="wicket", dismissal=kind, extra_kind=ex[0] if ex else None, extras=ex[1] if ex else None, **base
        )

    got = _runs(sh, cap)
    if got is None:
        return Canonical(outcome="unclear", confident=False, **base)
    outcome, runs, extra_kind, extras = got + (None, None) if len(got) == 2 else got
    return Canonical(outcome=outcome, runs=runs, extras=extras, extra_kind=extra_kind, **base)


def _pick_kind(kinds: list[str]) -> str | None:
    if not kinds:
        return None
    if "caught and bowled" in kinds:
        return "caught and bowled"
    # "caught" cues ride along with other kinds ("edged and taken ... stumped") less reliably
    for k in ("stumped", "run out", "lbw", "hit wicket", "caught", "bowled"):
        if k in kinds:
            return k
    return kinds[0]


def _caught_take(s: str) -> bool:
    """ "Taken at cover", "the keeper takes it": a catch, unless it is a leave, a ball on the bounce or a blow."""
    if NO_CATCH.search(s):
        return False
    if TAKE_IT.search(s):
        return bool(EDGED.search(s))
    return bool(TAKE_AT.search(s)) and (bool(EDGED.search(s)) or not KEEPER.search(s))


REVIEW_TURN = re.compile(
    r"\breview(?:s|ed)?\b|\bupstairs\b|\bdrs\b|\bthird umpire\b|\btv umpire\b|"
    r"\breplays?\b|\bball[- ]tracking\b|\bhawk[- ]?eye\b|"
    r"\bsnicko\b|\bultra[- ]?edge\b|\bumpire'?s call\b|"
    # a correction: "Dropped... no, he's clung on", "Bowled... not quite", "Caught! No wait, bump ball"
    r"(?:^|[.!?,;]\s*)(?:no(?=\s*[,!.])|no,?\s+wait|wait|hang on|hold on|actually|not quite)\b"
)


def _last_word(s: str) -> tuple[bool | None, str]:
    """What the words after the last review or correction say (True out, False not out, None neither
    or both), and those words."""
    turns = list(REVIEW_TURN.finditer(s))
    last = turns[-1] if turns else None
    if last is None:
        return None, ""
    tail = s[last.start() :]
    pos = bool(WICKET.search(tail)) or any(rx.search(tail) for _, rx in KINDS)
    negated = bool(WICKET_NEG.search(tail))
    return (pos if pos != negated else None), tail


def _extras(s: str):
    """(extra_kind, count) from extra cues, or None."""
    for kind, rx, default in (("wides", WIDE, 1), ("noballs", NOBALL, 1), ("legbyes", LEGBYES, 1), ("byes", BYES, 1)):
        m = rx.search(s)
        if m:
            # a number right before the cue ("2 wides", "four byes", "3lb")
            before = s[max(0, m.start() - 12) : m.end()]
            n = re.search(
                r"(\d|one|two|three|four|five|six|a|single|couple)\s*(?:leg[- "
                r"]?)?(?:wides?|wd|w|nbs?|no[- ]?balls?|lbs?|legbyes?|byes?|b)\b",
                before,
            )
            count = (int(n.group(1)) if n.group(1).isdigit() else NUM_WORDS.get(n.group(1), default)) if n else default
            return kind, count
    return None


def _runs(s: str, raw: str):
    """(outcome, runs) or (outcome, runs, extra_kind, extras) for a ball without a wicket, or None if unclear."""
    saved = bool(SAVED.search(s))
    all_run = ALL_RUN.search(s)
    six = bool(SIX.search(s)) or bool(re.search(r"(?<![A-Za-z])SIX(?![A-Za-z])", raw))
    four = bool(FOUR.search(s)) or bool(re.search(r"(?<![A-Za-z])FOUR(?![A-Za-z])", raw))
    if re.search(r"\bone bounce\b|\bbounced? once\b|\bbounces once\b|\bbounces? (?:over|before|into)", s):
        four, six = (
            four or six,
            False,
        )  # it bounced first: a four however far it went ("bounced once and over the rope")
    elif six and re.search(
        r"(?<!no )(?<!without )\b(?:bounce[sd]?|bouncing)\b(?!\s+(?:off|back|out|around|on the roof))", s
    ):
        four = True  # "bounces and over the rope": maybe a four; six and four together read as unclear
    if re.search(
        r"\b(?:lands?|landed|landing|bounces?|bounced|falls?|fell|dropped|"
        r"drops)\s+(?:just\s+|a (?:foot|yard|metre) )?inside the (?:ropes?|"
        r"fence|boundary)\b|"
        r"\bshort of the (?:ropes?|boundary|fence)\b|\bjust short\b",
        s,
    ):
        six = False  # "landed inside the rope": not a six, whatever it looked like
    if saved and not re.search(r"(?<![A-Za-z])(?:FOUR|SIX)(?![A-Za-z])", raw):
        six = four = False
    if (
        six
        and four
        and "?" not in s
        and re.search(r"\bon the full\b|\bwithout bouncing\b|\bno bounce\b|\bdid(?:n'?t| not) bounce\b", s)
    ):
        four = False  # "hits the boundary board on the full": a six
    overthrows = bool(re.search(r"\boverthrows?\b", s))
    if all_run or overthrows:
        four = six = False
    digits = {int(d) for d in DIGIT.findall(MASKS.sub(" ~ ", s))}
    extra = _extras(s)
    if re.search(r"\b\d+\s*(?:nb|wd|w|lb|b|lbs|nbs)\b", s):
        digits = set()  # shorthand extras carry their own count
    d = next(iter(digits)) if len(digits) == 1 else None
    if d == 6 and not four and not (all_run or overthrows):
        six = True
    if d == 4 and not six and not (all_run or overthrows) and (not extra or extra[0] == "noballs"):
        four = True
    if extra and extra[0] != "noballs" and not re.search(r"(?<![A-Za-z])(?:FOUR|SIX)(?![A-Za-z])", raw):
        six = four = False  # wides/byes that reach the rope are extras, not a boundary off the bat
    if six and four:
        return None
    if six or four:
        outcome = "six" if six else "four"
        ek, n = extra if extra and extra[0] == "noballs" else (None, None)
        return (outcome, 6 if six else 4, ek, n)
    if extra:
        kind, n = extra
        outcome = {"wides": "wide", "noballs": "noball", "byes": "byes", "legbyes": "legbyes"}[kind]
        bat = _run_count(s, d) if kind == "noballs" else 0
        return (outcome, bat or 0, kind, n)
    if all_run:
        return ("runs", _count(all_run.group(0), d or 4))
    if overthrows:
        return ("runs", None)  # the count mixes runs and overthrows: say runs, not how many
    if (
        d is None
        and re.search(r"\bno runs?\b", s)
        and not re.search(
            r"\b(?:single|couple|brace)\b|\b(?:one|two|three) runs?\b|\b(?:runs?|"
            r"ran|takes?|took|gets?|got)\s+(?:one|two|three|a single|a couple)\b",
            s,
        )
    ):
        return ("dot", 0)  # a plain "no run" outweighs a loose run word ("hurried by the pace ... no run")
    n = _run_count(s, d)
    if n:
        return ("runs", n)
    if d == 0 or DOT.search(s) or re.search(r"(?:^|\s)[.•](?:\s|$)", s):
        return ("dot", 0)
    return None


def _run_count(s: str, d: int | None) -> int | None:
    found = [n for n, rx in RUNS if rx.search(s)]
    if found:
        return found[0]
    if d in (1, 2, 3, 5, 7):
        return d
    return None


if __name__ == "__main__":
    for line in sys.argv[1:]:
        print(read(line))
