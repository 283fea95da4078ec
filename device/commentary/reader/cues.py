"""The reader's cue tables: regular expressions per outcome class, the masks, the negations and hedges.

Data, not rules: `device.commentary.reader` applies them.
"""

from __future__ import annotations

import re

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
