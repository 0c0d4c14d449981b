"""Cue phrases of the offline analyzer: general contact-centre vocabulary, kept apart from the logic.

Patterns match lower-case text with or without punctuation (speech-to-text output has none), so
they avoid relying on commas and sentence ends. They describe how customer-care calls go in
general; they are not taken from, nor tuned to, any particular call.
"""

from __future__ import annotations

import re

CATEGORIES = (
    "account_access",
    "billing",
    "cancellation",
    "claim",
    "complaint",
    "fraud_security",
    "information_request",
    "order_delivery",
    "outage_technical",
    "plan_change",
    "refund_return",
    "scheduling",
    "other",
)

# keyword -> weight; a keyword is a regex over word boundaries
CATEGORY_KEYWORDS: dict[str, dict[str, float]] = {
    "account_access": {
        r"locked out": 3,
        r"(account|profile) (is |was |got )?locked": 3,
        r"\blocked\b": 1,
        r"log ?in": 1.5,
        r"sign ?in": 1.5,
        r"password": 2,
        r"user ?name": 2,
        r"can'?t (get|log|sign) in": 3,
        r"access (to )?my (account|online|portal)": 2,
        r"verification code": 1,
        r"two.factor": 2,
        r"unlock": 1.5,
        r"reset (my|the) (password|account|pin)": 2,
        r"\bportal\b": 1,
        r"website": 0.5,
    },
    "billing": {
        r"\bbill\b": 2,
        r"billing": 2,
        r"charged (twice|double|two times)": 3,
        r"double charged": 3,
        r"overcharg": 3,
        r"\bcharged\b": 1,
        r"invoice": 1.5,
        r"statement": 1,
        r"payment plan": 3,
        r"\bbalance\b": 1.5,
        r"late fee": 2,
        r"\bfees?\b": 1,
        r"autopay|auto.pay": 1.5,
        r"\bpay (it|this|the)": 1,
        r"subscription": 0.5,
        r"can'?t (afford|pay)": 2,
        r"price increase|rate went up": 2,
    },
    "cancellation": {
        r"\bcancel": 2.5,
        r"close (my|the) account": 3,
        r"terminat": 1.5,
        r"discontinue": 2,
        r"(stop|end) (my|the) (service|subscription|policy|membership|plan)": 3,
        r"\bdisconnect": 1.5,
        r"don'?t need (it|the \w+|this \w+) anymore": 2,
        r"moving (away|abroad|to)": 1,
        r"early termination": 2,
    },
    "claim": {
        r"\bclaims?\b": 2,
        r"accident": 2.5,
        r"adjuster": 2,
        r"reimburs": 2.5,
        r"damage": 1,
        r"(lost|delayed|damaged) (bag|baggage|luggage|package)": 2.5,
        r"\bbag\b|baggage|luggage": 1,
        r"compensation": 1.5,
        r"\binjur": 1.5,
        r"collision|rear.ended": 2,
        r"expenses": 1,
        r"receipts": 1,
    },
    "complaint": {
        r"complain": 3,
        r"complaint": 3,
        r"unacceptable": 2,
        r"\brude\b": 2.5,
        r"terrible|awful|horrible": 1.5,
        r"(poor|bad|worst) (service|experience)": 2.5,
        r"disappointed": 1.5,
        r"(manager|supervisor)": 1,
        r"nobody (called|calls|came|showed)|no one (called|calls|came|showed)": 2,
        r"(called|calling) (twice|three times|several times|again)": 1.5,
    },
    "fraud_security": {
        r"fraud": 3,
        r"unauthori[sz]ed": 3,
        r"(didn'?t|did not|never) (make|made|authori[sz]e|file|order)": 2.5,
        r"(don'?t|do not) recogni[sz]e": 2.5,
        r"stolen": 2,
        r"identity theft": 3,
        r"\bscam": 3,
        r"suspicious": 2.5,
        r"hack": 2.5,
        r"phishing": 3,
        r"in my name": 2,
        r"someone (used|opened|filed)": 2.5,
    },
    "information_request": {
        r"(wanted|want|like) to (know|ask|check|find out)": 2,
        r"wondering": 2,
        r"question": 1.5,
        r"is (it|that|\w+) covered": 2.5,
        r"coverage": 1,
        r"how (do|does|can|much|long)": 1,
        r"\binformation\b": 1,
        r"what (are|is) (the|your)": 1,
        r"(opening )?hours": 1,
        r"eligib": 1.5,
        r"does (it|my|the) (plan|policy)": 1.5,
        r"benefits": 1,
        r"wrong number": 2,
    },
    "order_delivery": {
        r"deliver": 2,
        r"shipping|shipped|shipment": 2,
        r"\bpackage\b|\bparcel\b": 2,
        r"tracking": 2,
        r"(hasn'?t|has not|never|didn'?t) (arrived|come|shown up)": 3,
        r"where is my": 2,
        r"courier": 2,
        r"\border\b": 0.5,
        r"out of stock|back.?order": 2,
    },
    "outage_technical": {
        r"outage": 3,
        r"not working|isn'?t working|stopped working|doesn'?t work|won'?t work": 3,
        r"\berror\b": 2.5,
        r"crash": 2.5,
        r"\bbug\b|glitch": 2,
        r"(no|lost) (internet|signal|service|power|connection)": 3,
        r"(internet|wifi|wi.fi|connection) (is |keeps )?(down|dropping|slow)": 3,
        r"disappeared": 2,
        r"\bsync": 2,
        r"\bupdate\b": 1,
        r"won'?t (load|open|connect|start|close)": 2.5,
        r"technical": 2,
        r"keeps (failing|freezing|crashing|giving)": 2.5,
        r"\bfail(ed|ing)\b": 1.5,
        r"\bdown\b": 0.5,
    },
    "plan_change": {
        r"upgrade": 2.5,
        r"downgrade": 2.5,
        r"change (my|the) (plan|package|tier)": 3,
        r"switch (to )?(a |the )?(different |new |cheaper )?(plan|package)": 3,
        r"add (a |another )?line": 2.5,
        r"cheaper plan|new plan|better plan": 2,
    },
    "refund_return": {
        r"refund": 2.5,
        r"\breturn(ing|ed)?\b": 2.5,
        r"exchange": 2,
        r"wrong (size|item|color|colour|product)": 3,
        r"send (it|this|them) back": 2.5,
        r"money back": 2,
        r"defective|broken|faulty": 1.5,
        r"return label": 2,
        r"promo(tion)? code|discount|coupon": 1.5,
    },
    "scheduling": {
        r"appointment": 3,
        r"reschedul": 3,
        r"\bschedul": 1.5,
        r"\b(move|change|push) (my|the|it)\b": 1.5,
        r"installation": 1.5,
        r"(time )?slot": 1.5,
        r"\bflight\b": 1.5,
        r"\bbook(ing)? (a|an|my)\b": 1.5,
        r"(next|this) (monday|tuesday|wednesday|thursday|friday|saturday|sunday|week)": 0.5,
        r"availab": 1,
        r"visit": 0.5,
    },
}

# -- escalation and resolution -------------------------------------------------------------------

_ESCALATION_TARGET = (
    r"(supervisor|manager|specialist|senior|tier (two|2|three|3)|second (level|tier)|level (two|2)"
    r"|escalations?|investigat\w*|\w+ (team|unit|department|desk))"
)
ESCALATED = [
    re.compile(
        r"\b(i'?m|i am|i'?ve|i have|i'?ll|i will|we'?re|we are|we'?ve|we have|we'?ll|we will)\s+"
        r"(now |just |already |also )?(escalat\w+|transferr?\w*|forward\w*|referr?\w*|pass\w*|hand\w*)\b"
        r"(?=.{0,60}\b" + _ESCALATION_TARGET + r")"
    ),
    re.compile(r"\b(has been|have been|was|is being|been) (escalated|transferred|referred|forwarded)\b"),
    re.compile(r"\bescalating (it|this|the|your)\b"),
    re.compile(
        r"\b(a|the|our|my) (supervisor|manager|specialist)\b.{0,40}\bwill (call|contact|reach|get back)"
    ),
]

# things still to come: the request is not fully handled when the call ends
PENDING = [
    (re.compile(r"\badjuster\b"), 2.0),
    (re.compile(r"\binvestigat\w*"), 2.0),
    (re.compile(r"\b(will|to) (contact|call|reach out to|get back to|follow up with) you\b"), 1.0),
    (re.compile(r"\bcall (you|us) back\b|\bcallback\b|\bcall back\b"), 1.5),
    (
        re.compile(
            r"\b(will|to|would) (be )?review|\bunder review\b|\b(being|is|are|gets?) reviewed\b|"
            r"\breviews? (them|it|the|your)\b|\bgo(es)? through (a )?review\b"
        ),
        1.0,
    ),
    (re.compile(r"\b(pending|awaiting|waiting (for|on))\b"), 1.0),
    (
        re.compile(
            r"\b(can'?t|cannot|can not|not able to|unable to|won'?t be able to)\s+(\w+ ){0,2}"
            r"(change|reset|override|refund|cancel|fix|recover|promise|do|help|book|waive|access|find)"
        ),
        2.0,
    ),
    (re.compile(r"\b(not|isn'?t|hasn'?t been) (resolved|fixed) yet\b|\bworking on a fix\b"), 1.5),
    (re.compile(r"\bwrong number\b"), 3.0),
    (
        re.compile(
            r"\b(breaking up|cutting (in and )?out|bad (signal|line|connection)|can'?t hear (you|me))\b"
        ),
        2.0,
    ),
    (re.compile(r"\bonce (we|they) (receive|get|review|hear)\b"), 0.5),
    (re.compile(r"\bif (approved|it'?s approved)\b|\bdecided by\b|\bno guarantee\b"), 1.5),
]

# the request was handled during the call
DONE = [
    (
        re.compile(
            r"\b(i'?ve|i have|we'?ve|we have)\s+(just |now |already |also |gone ahead and )?"
            r"(refunded|credited|reversed|removed|waived|unlocked|reset|moved|rescheduled|scheduled|"
            r"cancell?ed|updated|changed|processed|applied|issued|blocked|fixed|restored|"
            r"reactivated|activated|set up|added|booked|corrected|replaced|ordered|closed|resent|sent)\b"
        ),
        1.0,
    ),
    (
        re.compile(
            r"\b(i'?ll|i will) (go ahead and )?(cancel|refund|waive|credit|process|update|close|reverse|"
            r"remove|reschedule|unlock|reset)\b"
        ),
        0.5,
    ),
    (
        re.compile(
            r"\b(you'?re|you are) all set\b|\ball set\b|\b(is|are|has been|have been) (all )?set up\b"
        ),
        1.5,
    ),
    (re.compile(r"\btaken care of\b|\b(it|that|the order|the payment) went through\b|\bis confirmed\b"), 1.5),
    (re.compile(r"\b(that|this) answers my question"), 2.0),
    (re.compile(r"\b(that'?s|that is) (everything|all i needed|exactly what i needed)\b"), 1.0),
    (re.compile(r"\b(perfect|wonderful|excellent|awesome|great)\b.{0,30}\b(thank|thanks)\b"), 0.5),
]

# -- action items and next steps -------------------------------------------------------------------

_TRIVIAL = (
    r"(check|see|look|pull|verify|ask|get your|have your|start|place you|put you|wait|repeat|help|be happy)"
)
ACTION = [
    # things the agent did: "I've refunded", "I have opened"
    re.compile(
        r"\b(i'?ve|i have|we'?ve|we have)\s+(just |now |already |also |gone ahead and )?(?!been\b|got\b|"
        r"had\b|seen\b|noted that you)\w+(ed|ent|et|ade|one|ut|ken|en|un|own)\b"
    ),
    # things the agent is doing now: "I'm escalating", "I'm ordering a new card"
    re.compile(
        r"\b(i'?m|i am|we'?re|we are)\s+(now |also |just )?(?!going\b|looking\b|checking\b|seeing\b|"
        r"calling\b|trying\b|having\b|getting\b|showing\b|afraid\b|sorry\b|able\b|happy\b|glad\b|"
        r"not\b)\w+ing\b"
    ),
    # commitments: "I'll send", "we will mail", not "I'll check" or "let me see"
    re.compile(
        r"\b(i'?ll|i will|we'?ll|we will|i'?m going to|we'?re going to)\s+(also |now |just )?(?!"
        + _TRIVIAL
        + r"\b)\w+"
    ),
    re.compile(
        r"\b(an?|the|our|your)\s+(\w+\s+){0,2}(adjuster|technician|engineer|specialist|supervisor|manager|"
        r"team|investigator|department|unit|courier|representative)\s+will\b"
    ),
    re.compile(
        r"\bwill be (mailed|sent|shipped|emailed|credited|refunded|processed|issued|delivered|applied|"
        r"waived|cancell?ed|closed|reviewed|prorated|posted|reversed)\b"
    ),
    re.compile(r"\b(you'?ll|you will) (also )?(receive|get) (an?|the|two|your)\b"),
]
NEXT_STEP = [
    re.compile(
        r"\b(please|you'?ll need to|you need to|you will need to|you must|you should|make sure|"
        r"be sure to|remember to|you'?ll want to|just make sure)\b"
    ),
    re.compile(
        r"\b(you can|you could)\s+(\w+\s+){0,2}"
        r"(email|upload|drop|send|call|visit|come|use|log|go|fill|take|bring)"
    ),
    re.compile(r"\b(don'?t|do not)\s+(sign|log|reinstall|delete|close|cancel|throw)\b"),
    re.compile(r"\b(should|will|would|it'?ll)\s+(\w+\s+)?(arrive|appear|show up|post|take|be there|come)\b"),
    re.compile(r"\b(you'?ll|you will) see\b"),
    re.compile(r"\bif (the|it|they|nobody|no one|you)\b.{0,40}\b(haven'?t|hasn'?t|don'?t|doesn'?t|not)\b"),
    re.compile(r"\b(within|in) (\w+ ){0,3}(business )?(days?|hours?|weeks?|minutes?)\b"),
]
# what the customer says they will do
CUSTOMER_COMMITMENT = re.compile(
    r"\b(i'?ll|i will|i'?m going to|i am going to|i'?m gonna)\s+(also |just )?"
    r"(upload|send|call|do|take|bring|drop|email|go|wait|try|file|keep|pay|look|fill|return|mail|check|"
    r"figure|complain|contact|report|visit|use|place|let)\b"
)

# -- sentiment -----------------------------------------------------------------------------------

# ritual politeness: said in calm and angry calls alike, so it says little about how the customer feels
POLITENESS = re.compile(
    r"\b(thank you|thanks|thank u|you'?re welcome|have a (good|great|nice) (day|one|evening|night)|"
    r"no problem|okay|ok|alright|all right|sure|good (morning|afternoon|evening)|please|hello|hi)\b"
)
# frustration the VADER lexicon under-reads in spoken complaints
FRUSTRATION = [
    re.compile(
        r"\b(speak|talk) (to|with) (a|your|the|someone|somebody)\s?(\w+ )?(manager|supervisor|someone else)"
    ),
    re.compile(r"\b(unacceptable|ridiculous|outrageous|unbelievable|absurd|insane|pathetic|disgraceful)\b"),
    re.compile(r"\b(this|that|it) is (really |just |so )?not (okay|ok|acceptable|fair|right)\b|\bnot okay\b"),
    re.compile(r"\b(forget it|waste of (my )?time|fed up|sick of|had enough|last time i)\b"),
    re.compile(r"\b(nobody|no one) (ever )?(calls?|called|helps?|helped|listens?|shows? up|came)\b"),
    re.compile(r"\b(they'?d|you'?d) better\b|\bwe'?ll see\b"),
    re.compile(r"\bwhat am i supposed to do\b|\bhow (is|was) (this|that) (my|fair|possible)\b"),
    re.compile(
        r"\b(i'?ll|i will|i'?m going to) (file a complaint|report (you|this)|cancel|switch|take my business)"
    ),
    re.compile(r"\b(called|calling|phoned) (twice|three times|several times|multiple times|over and over)\b"),
]
DELIGHT = re.compile(
    r"\b(thank you so much|thanks so much|really appreciate|"
    r"appreciate (it|that|you|your help) (so much|a lot)|"
    r"(huge|such a|big) relief|you'?ve been (really |so |very )?helpful|made (this|that|it) (so |really )?"
    r"(easy|simple)|amazing|fantastic|wonderful|awesome|perfect|excellent)\b"
)
