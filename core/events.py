"""The event taxonomy: the kinds of news that move prices, defined once.

Each kind has a default polarity for its subject company (the company the news is about),
the reasoning behind it, and the patterns that find it in a headline. The tagger is those
patterns and nothing else, so every tag can be explained by pointing at the phrase that
matched (`EventTagger.explain`). `docs/events.md` is generated from this module
(`newsig events --markdown`; a test keeps the two equal); the behavioural suite and the event
training data (model/event_data.py) are built over the same kinds.

Patterns are matched case-insensitively on the headline with runs of whitespace folded; a
kind can also name `unless` patterns that veto it (a "price target" is not a "target" of a
takeover). Several kinds can match one headline ("cuts guidance and 1,200 jobs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from core.names import LABELS

#: Words that say "rating agency" (credit ratings) rather than "equity analyst".
_AGENCY = r"(?:moody'?s|s&p|standard (?:&|and) poor'?s|fitch|dbrs|scope ratings|credit rating|" \
          r"investment[- ]grade|junk|rating agency|ba[a1-3]|aaa|aa[+-]?|a[+-]|bbb[+-]?|" \
          r"bb[+-]?|b[+-]|" \
          r"ccc[+-]?)(?![\w+-])"
_BROKER_RATING = (r"(?:buy|sell|hold|neutral|outperform|underperform|overweight|underweight|"
                  r"equal[- ]weight|market[- ]perform|sector[- ]perform|accumulate|reduce|"
                  r"strong buy|positive|negative|add|peer perform|in[- ]line)")
_RAISE = r"(?:raises?|raised|raising|lifts?|lifted|lifting|upped|boosts?|boosted|" \
         r"hikes?|hiked|increases?|increased|(?-i:ups)|improves?|improved|upgrades?|upgraded|" \
         r"tops up|nudges up|bumps up|revises up|revised up|revises upwards?|lift|upped)"
_CUT = r"(?:cuts?|cutting|lowers?|lowered|lowering|slashes|slashed|slashing|reduces?|" \
       r"reduced|trims?|trimmed|downgrades?|downgraded|revises down|revised down|" \
       r"revises downwards?|scales back|scaled back|pares|pared|lops|narrows? down)"
_GUIDANCE = r"(?:guidance|outlook|forecasts?|targets?|profit view|sales view|view|" \
            r"expectations|estimates for (?:the )?(?:year|fy))"
#: A forecast for an economy, not a company: never guidance.
_MACRO = (r"\b(?:global|economic|gdp|uk|us|euro[- ]?zone|world|inflation|growth) (?:growth )?"
          r"(?:outlook|forecasts?)\b(?<!sales growth forecast)(?<!sales growth outlook)",
          r"\b(?:imf|economists?|world bank|central bank|ecb|oecd)\b")
_DIVIDEND = r"(?:dividends?|payouts?|distribution)"
_CONSENSUS = r"(?:estimates?|expectations?|forecasts?|consensus|views?|predictions?|" \
             r"street|wall street|analysts?'? (?:estimates|views|forecasts)|projections?)"


@dataclass(frozen=True)
class EventKind:
    """One kind of price-moving news."""

    name: str
    group: str
    polarity: str
    """the default sentiment for the subject company: negative, neutral or positive"""
    reason: str
    patterns: tuple[str, ...]
    unless: tuple[str, ...] = ()
    examples: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for part in (self.patterns, self.unless, self.examples):
            if not isinstance(part, tuple):
                raise TypeError(f"{self.name}: patterns, unless and examples are tuples")
        if self.polarity not in LABELS:
            raise ValueError(f"{self.name}: polarity {self.polarity!r} not in {LABELS}")


def _k(name: str, group: str, polarity: str, reason: str, patterns: tuple[str, ...],
       unless: tuple[str, ...] = (), examples: tuple[str, ...] = ()) -> EventKind:
    return EventKind(name, group, polarity, reason, patterns, unless, examples)


TAXONOMY: tuple[EventKind, ...] = (
    # -- results ----------------------------------------------------------------------
    _k("earnings_beat", "results", "positive",
       "Results above what the market expected: the price moves on the surprise, not the level.",
       (rf"\b(?:beats?|beating|beat|tops?|topped|topping|exceeds?|exceeded|exceeding|"
        rf"surpass(?:es|ed)?|outstrips?|outstripped|ahead of|above|better[- ]than[- ]expected|"
        rf"crush(?:es|ed)?|smash(?:es|ed)?)\b[^.;]{{0,40}}\b{_CONSENSUS}",
        r"\bbetter[- ]than[- ](?:expected|forecast)\b",
        r"\beps\b[^;]{0,20}\$?\d[\d.,]*\s+vs\.?\s+\$?\d[\d.,]*\s+(?:consensus|est|estimate|expected)",
        r"\b(?:profit|earnings|revenue|sales|results)\b[^.;]{0,30}\bblow past\b",
        r"\bbeats? on (?:earnings|revenue|profit|sales|the top|the bottom|both)",
        r"\b(?:earnings|profit|revenue|sales|eps) beats?\b",
        r"\b(?:eps|earnings|profit|revenue|sales)\b[^.;]{0,20}\b(?:beats?|tops?) by\b"),
       unless=(r"\b(?:miss(?:es|ed)?|short of|below)\b[^.;]{0,30}\b(?:estimates?|expectations?|"
               r"forecasts?|consensus)",),
       examples=("Acme Q3 profit beats estimates", "Acme EPS $2.11 vs $1.90 consensus")),
    _k("earnings_miss", "results", "negative",
       "Results below what the market expected.",
       (rf"\b(?:miss(?:es|ed|ing)?|falls? short of|fell short of|falling short of|"
        rf"short of|below|under|lags?|lagged|trails?|trailed|disappoints?|disappointed|"
        rf"worse[- ]than[- ]expected|undershoots?|undershot)\b[^.;]{{0,40}}\b{_CONSENSUS}",
        r"\bworse[- ]than[- ](?:expected|forecast)\b",
        r"\b(?:results|earnings|profit|quarter|sales)\b[^.;]{0,30}\bdisappoint",
        r"\bmiss(?:es|ed)? on (?:earnings|revenue|profit|sales|the top|the bottom|both)",
        r"\b(?:earnings|profit|revenue|sales|eps) miss(?:es)?\b",
        r"\b(?:eps|earnings|profit|revenue|sales)\b[^.;]{0,20}\bmiss(?:es|ed)? by\b"),
       unless=(r"\b(?:beats?|tops?|exceeds?)\b[^.;]{0,30}\b(?:estimates?|expectations?|"
               r"forecasts?|consensus)",),
       examples=("Acme revenue falls short of expectations",)),
    _k("profit_warning", "results", "negative",
       "The company tells the market results will be worse than it said: a surprise from the "
       "best-informed source.",
       (r"\bprofits? warnings?\b", r"\bwarns? (?:on|of|about)\b[^.;]{0,30}\b(?:profits?|"
        r"earnings|sales|revenue|results|margins?|demand)",
        r"\bwarns?\b[^.;]{0,30}\b(?:profits?|earnings|sales|revenue|results) (?:will|to) "
        r"(?:fall|drop|decline|miss|be lower|slump)",
        r"\bissues? (?:a )?(?:profit|earnings|sales|revenue) warning",
        r"\bwarning on (?:profits?|earnings|sales|revenue)", r"\bsurprise warning\b")),
    # -- guidance -----------------------------------------------------------------------
    _k("guidance_raised", "guidance", "positive",
       "A higher forecast from the company itself for the quarter, the year or beyond.",
       (rf"\b{_RAISE}\b[^.;]{{0,40}}\b{_GUIDANCE}\b",
        rf"\b{_GUIDANCE}\b[^.;]{{0,20}}\b(?:raised|lifted|increased|upgraded|boosted|hiked)\b",
        r"\b(?:now )?(?:expects?|sees|forecasts?|predicts?)\b[^.;]{0,15}\b(?:higher|stronger|"
        r"bigger|better|increased)\b[^.;]{0,20}\b(?:sales|revenue|profits?|earnings|margins?|"
        r"results|growth)\b"),
       unless=(r"\bprice target", r"\btarget price", r"\bpt\b", r"\b" + _AGENCY + r"[^.;]{0,30}\b"
               r"outlook\b", r"\boutlook (?:to|on)\b[^.;]{0,12}\b(?:positive|stable)",
               r"\b(?:debt|capital|emissions?|carbon|climate)\b[^.;]{0,15}\btargets?\b",
               *_MACRO)),
    _k("guidance_cut", "guidance", "negative",
       "A lower forecast from the company itself.",
       (rf"\b{_CUT}\b[^.;]{{0,40}}\b{_GUIDANCE}\b",
        rf"\b{_GUIDANCE}\b[^.;]{{0,20}}\b(?:cut|lowered|reduced|slashed|downgraded|trimmed)\b",
        r"\b(?:now )?(?:expects?|sees|forecasts?|predicts?)\b[^.;]{0,15}\b(?:lower|weaker|"
        r"smaller|worse|reduced)\b[^.;]{0,20}\b(?:sales|revenue|profits?|earnings|margins?|"
        r"results|growth)\b"),
       unless=(r"\bprice target", r"\btarget price", r"\bpt\b", r"\b" + _AGENCY + r"[^.;]{0,30}\b"
               r"outlook\b", r"\boutlook (?:to|on)\b[^.;]{0,12}\b(?:negative|stable)",
               r"\b(?:debt|costs?|emissions?|carbon|climate|headcount)\b[^.;]{0,15}\btargets?\b",
               r"\bcost[- ]cut", *_MACRO)),
    _k("guidance_withdrawn", "guidance", "negative",
       "The company can no longer say what it expects: uncertainty it cannot size is worse "
       "than a cut it can.",
       (r"\b(?:withdraws?|withdrew|withdrawn|withdrawing|pulls?|pulled|pulling|scraps?|"
        r"scrapped|suspends?|suspended|suspending|abandons?|abandoned|drops?|dropped|"
        r"rescinds?|rescinded|retracts?|retracted)\b[^.;]{0,30}\b(?:guidance|outlook|"
        r"forecasts?|financial targets)\b",
        r"\b(?:guidance|outlook|forecasts?)\b[^.;]{0,15}\b(?:withdrawn|suspended|pulled|"
        r"scrapped)\b",
        r"\bno longer (?:gives|provides|expects to meet|sees)\b")),
    _k("guidance_reaffirmed", "guidance", "neutral",
       "The forecast stands: news only to the degree the market doubted it.",
       (r"\b(?:reaffirms?|reaffirmed|reiterates?|reiterated|confirms?|confirmed|maintains?|"
        r"maintained|keeps?|kept|backs?|backed|sticks? to|stands? by|stood by|holds?)\b"
        r"[^.;]{0,30}\b(?:guidance|outlook|forecasts?|targets?)\b",),
       unless=(r"\bprice target", r"\btarget price", r"\b" + _AGENCY, r"\b(?:buy|sell|hold|"
               r"outperform|overweight|neutral) rating")),
    # -- capital returns and funding --------------------------------------------------
    _k("dividend_raised", "capital", "positive",
       "A higher payout: cash to holders and confidence from the board.",
       (rf"\b{_RAISE}\b[^.;]{{0,25}}\b{_DIVIDEND}\b",
        rf"\b{_DIVIDEND}\b[^.;]{{0,15}}\b(?:raised|increased|hiked|lifted|boosted|up \d)",
        r"\b(?:special|extra|bumper|record|higher|increased|bigger|larger)"
        r"(?: final| interim| quarterly| annual)? dividend\b")),
    _k("dividend_cut", "capital", "negative",
       "A lower payout: less cash, and a board that expects less.",
       (rf"\b{_CUT}\b[^.;]{{0,25}}\b{_DIVIDEND}\b",
        rf"\b{_DIVIDEND}\b[^.;]{{0,15}}\b(?:cut|lowered|reduced|slashed|halved)\b",
        r"\bhalves\b[^.;]{0,15}\bdividend")),
    _k("dividend_suspended", "capital", "negative",
       "No payout at all: a sign of cash strain.",
       (r"\b(?:suspends?|suspended|suspending|scraps?|scrapped|scrapping|skips?|skipped|"
        r"omits?|omitted|cancels?|cancell?ed|cancelling|halts?|halted|eliminates?|"
        r"eliminated|axes|axed|passes on|stops?|stopped|freezes|froze|frozen)\b[^.;]{0,25}"
        r"\b(?:dividends?|payouts?)\b", r"\bno (?:final |interim )?dividend\b",
        r"\bdividends?\b[^.;]{0,10}\b(?:suspended|scrapped|cancell?ed|axed)\b")),
    _k("dividend_initiated", "capital", "positive",
       "A first payout (or one restored): the company expects to have cash to spare.",
       (r"\b(?:initiates?|initiated|introduces?|introduced|declares? (?:its )?first|"
        r"launches?|starts? paying|begins? paying|reinstates?|reinstated|restores?|"
        r"restored|resumes?|resumed)\b[^.;]{0,25}\bdividends?\b",
        r"\bfirst[- ]ever dividend\b", r"\bmaiden dividend\b",
        r"\bfirst(?:[- ]ever)?(?: regular| quarterly| annual| cash| interim)* dividends?\b"
        r"(?! (?:increase|hike|raise|rise|cut|reduction))",
        r"\bpays? (?:its |a )?first\b[^.;]{0,20}\bdividend")),
    _k("buyback", "capital", "positive",
       "The company buys its own shares: fewer shares, and a view that they are cheap.",
       (r"\b(?:buy[- ]?backs?|share repurchases?|stock repurchases?|repurchase (?:plan|"
        r"program(?:me)?|authori[sz]ation)|repurchase up to)\b",
        r"\b(?:buy|buys|buying|repurchase|repurchases|repurchasing) back\b[^.;]{0,20}"
        r"\b(?:shares|stock)\b",
        r"\brepurchases?\b[^.;]{0,25}\b(?:shares|stock)\b"),
       unless=(r"\b(?:suspends?|halts?|scraps?|pauses?|cancels?|ends?)\b[^.;]{0,20}"
               r"\bbuy[- ]?backs?\b",)),
    _k("share_offering", "capital", "negative",
       "New shares sold: existing holders are diluted, usually at a discount.",
       (r"\b(?:share|stock|equity|rights) (?:offering|issue|sale|placing|placement)\b",
        r"\brights issue\b", r"\bplacing of\b[^.;]{0,25}\bshares\b",
        r"\b(?:sells?|sold|selling|offers?|offering|issues?|issuing|raises?)\b[^.;]{0,30}"
        r"\b(?:new shares|new stock|shares at a discount)\b",
        r"\braises?\b[^.;]{0,25}\bin (?:a )?(?:share|stock|equity) (?:sale|offering|placing)",
        r"\b(?:secondary|follow-on|at-the-market|atm) (?:offering|programme|program)\b",
        r"\bdilut(?:ive|ion|es)\b"),
       unless=(r"\binitial public offering\b", r"\bipo\b")),
    # -- credit ------------------------------------------------------------------------
    _k("credit_upgrade", "credit", "positive",
       "A rating agency thinks the debt is safer: cheaper funding.",
       (rf"\b{_AGENCY}[^.;]{{0,40}}\b(?:upgrades?|upgraded|raises?|raised|lifts?)\b",
        rf"\b(?:upgrades?|upgraded|raises?|raised|lifts?|lifted)\b[^.;]{{0,40}}\b{_AGENCY}",
        r"\b(?:outlook|rating outlook) (?:to|raised to|revised to) positive\b",
        r"\bregains? investment[- ]grade\b"),
       unless=(r"\bprice target", r"\bto (?:buy|outperform|overweight)\b")),
    _k("credit_downgrade", "credit", "negative",
       "A rating agency thinks the debt is riskier: dearer funding, sometimes forced sellers.",
       (rf"\b{_AGENCY}[^.;]{{0,40}}\b(?:downgrades?|downgraded|cuts?|lowers?|lowered|"
        rf"slashes|slashed)\b",
        rf"\b(?:downgrades?|downgraded|cuts?|lowers?|lowered|slashes|slashed)\b[^.;]{{0,40}}"
        rf"\b{_AGENCY}",
        r"\b(?:outlook|rating outlook) (?:to|cut to|revised to|lowered to) negative\b",
        r"\b(?:junk|to junk)\b", r"\bcreditwatch negative\b",
        r"\bloses? investment[- ]grade\b"),
       unless=(r"\bprice target", r"\bto (?:sell|underperform|underweight)\b")),
    _k("default", "distress", "negative",
       "The company did not pay what it owes.",
       (r"\b(?:defaults?|defaulted|defaulting)\b(?! swap)",
        r"\bmiss(?:es|ed)?\b[^.;]{0,25}\b(?:coupon|bond|interest|debt|loan) payments?\b",
        r"\b(?:fails?|failed|failing|unable) to (?:pay|make)\b[^.;]{0,25}\b(?:coupon|bond|"
        r"interest|debt|loan)",
        r"\bskips?\b[^.;]{0,15}\b(?:coupon|interest|bond) payment"),
       unless=(r"\bdefault (?:setting|option|browser)", r"\bcredit default swap")),
    # -- analysts ----------------------------------------------------------------------
    _k("analyst_upgrade", "analyst", "positive",
       "A broker raises its recommendation: new buying from its clients.",
       (rf"\bupgrade[sd]?\b[^.;]{{0,40}}\bto {_BROKER_RATING}\b",
        r"\bupgraded\b[^.;]{0,12}\b(?:at|by)\b",
        rf"\braised to {_BROKER_RATING}\b",
        rf"\b(?:raises?|raised|lifts?|lifted|moves?|moved|(?-i:ups))\b[^.;]{{0,30}}\bto "
        rf"{_BROKER_RATING}\b(?: from| at| by|$)",
        r"\bupgrades?\b[^.;]{0,30}\b(?:shares|stock)\b",
        rf"\b(?:lifted|moved|raised) to {_BROKER_RATING} (?:at|by|from)\b",
        r"\banalyst upgrade\b", r"\bupgrades? (?:on|for)\b[^.;]{0,20}\bshares\b",
        r"(?-i:[A-Z][\w&.'-]*) (?:upgrades?|upgraded) (?-i:[A-Z])",
        r"\bon (?-i:[A-Z])[\w&.' -]{0,30} upgrade\b"),
       unless=(r"\b" + _AGENCY, r"\b(?:guidance|outlook|forecast|dividend)\b")),
    _k("analyst_downgrade", "analyst", "negative",
       "A broker lowers its recommendation: selling from its clients.",
       (rf"\bdowngrade[sd]?\b[^.;]{{0,40}}\bto {_BROKER_RATING}\b",
        r"\bdowngraded\b[^.;]{0,12}\b(?:at|by)\b",
        rf"\b(?:cut|lowered) to {_BROKER_RATING}\b",
        rf"\b(?:cuts?|lowers?|lowered|moves?|moved)\b[^.;]{{0,30}}\bto "
        rf"{_BROKER_RATING}\b(?: from| at| by|$)",
        r"\bdowngrades?\b[^.;]{0,30}\b(?:shares|stock)\b",
        r"\banalyst downgrade\b", r"\bdowngrades? (?:on|for)\b[^.;]{0,20}\bshares\b",
        r"(?-i:[A-Z][\w&.'-]*) (?:downgrades?|downgraded) (?-i:[A-Z])",
        r"\bon (?-i:[A-Z])[\w&.' -]{0,30} downgrade\b"),
       unless=(r"\b" + _AGENCY, r"\b(?:guidance|outlook|forecast|dividend)\b")),
    _k("analyst_initiation", "analyst", "neutral",
       "New coverage: its direction is the rating's, so the kind alone says little.",
       (r"\b(?:initiates?|initiated|initiating|starts?|started|begins?|began|resumes?|"
        r"resumed|launches|launched|assumes?|assumed)\b[^.;]{0,30}\b(?:coverage|"
        r"covering)\b", r"\bcoverage (?:initiated|started|resumed)\b",
        rf"\b(?:initiates?|initiated|starts?|started)\b[^.;]{{0,30}}\b(?:at|with(?: an?)?) "
        rf"{_BROKER_RATING}\b")),
    _k("price_target_raised", "analyst", "positive",
       "A broker sees more value per share.",
       (rf"\b{_RAISE}\b[^.;]{{0,40}}\b(?:price target|target price|price objective|pt)\b",
        r"\b(?:price target|target price|pt)\b[^.;]{0,25}\b(?:raised|lifted|increased|"
        r"boosted|hiked|upped)\b",
        r"\b(?:price target|target price|pt)\b[^.;]{0,20}\bto \$?\d[\d.,]*\s*from\s*\$?"
        r"\d[\d.,]*\b(?=.*\b(?:raises?|lifts?|ups|boosts?)\b)",
        rf"\b{_RAISE}\b[^.;]{{0,12}}\btarget on\b",
        rf"\b{_RAISE} (?-i:[A-Z][\w&.'-]*)(?: (?-i:[A-Z][\w&.'-]*))? target\b")),
    _k("price_target_cut", "analyst", "negative",
       "A broker sees less value per share.",
       (rf"\b{_CUT}\b[^.;]{{0,40}}\b(?:price target|target price|price objective|pt)\b",
        r"\b(?:price target|target price|pt)\b[^.;]{0,25}\b(?:cut|lowered|reduced|"
        r"slashed|trimmed)\b",
        rf"\b{_CUT}\b[^.;]{{0,12}}\btarget on\b",
        rf"\b{_CUT} (?-i:[A-Z][\w&.'-]*)(?: (?-i:[A-Z][\w&.'-]*))? target\b")),
    # -- M&A ---------------------------------------------------------------------------
    _k("acquisition", "deals", "neutral",
       "The subject buys another company: growth, but paid for with a premium and "
       "integration risk, so the market's verdict goes either way (the target is "
       "`takeover_target`).",
       (r"\b(?:to (?:buy|acquire)|agrees to (?:buy|acquire)|acquires?|acquired|buys|"
        r"snaps up|snapped up|takes over|completes? (?:the )?(?:acquisition|purchase)|"
        r"in talks to (?:buy|acquire)|bids? for|makes? (?:a )?(?:bid|offer) for|"
        r"(?:\$|eur |usd |gbp |€|£)?\d[\d.,]*\s*(?:bn|billion|million|mln|m)? "
        r"(?:deal|takeover|acquisition|bid|offer) for)\b[^.;]{0,60}\b(?:[A-Z][\w&.-]*|"
        r"(?:rival|peer|maker|firm|company|business|unit|startup|stake|group|operator|"
        r"developer|provider|producer|retailer|chain|brand))",
        r"\b(?:merger|merge|merges|merging|combination) (?:with|of)\b",
        r"\bto merge\b", r"\bagrees? (?:a )?deal (?:for|to buy)\b"),
       unless=(r"\b(?:to be (?:bought|acquired)|agrees? to be (?:bought|acquired)|"
               r"receives?|received|rejects?|rejected|spurns?|spurned)\b",
               r"\b(?:collapses?|collapsed|abandons?|abandoned|terminates?|terminated|"
               r"called off|calls off|walks? away|scraps?|scrapped|blocks?|blocked)\b",
               r"\bbuys? back\b", r"\bbuyback\b", r"\bupgrad", r"\bto buy (?:from|at|by)\b",
               r"\b(?:raises?|lifts?|moves?|(?-i:ups))\b[^.;]{0,30}\bto buy\b",
               r"\bbuys\b[^.;]{0,15}\b(?:shares|stock)\b(?! in)")),
    _k("takeover_target", "deals", "positive",
       "The subject is being bought: a bid usually comes at a premium to the share price.",
       (r"\b(?:to be (?:bought|acquired|taken over)|agrees? to be (?:bought|acquired|"
        r"taken over)|agrees? to sell itself|receives?|received|gets?|got|attracts?)\b"
        r"[^.;]{0,35}\b(?:takeover|buyout|acquisition|bid|offer|approach)\b",
        r"\b(?:takeover|buyout|bid) (?:target|interest|approach|speculation)\b",
        r"\bexplores? (?:a )?sale\b", r"\bputs? itself up for sale\b",
        r"\b(?:shares?|stock) (?:soar|jump|surge)s?\b[^.;]{0,25}\b(?:takeover|buyout|bid)\b",
        r"\bagreed? (?:a )?(?:takeover|buyout)\b",
        r"\b(?:agrees?|agreed|set|poised|about) to be (?:bought|acquired|taken over|sold to)\b",
        r"\bagrees? (?:a |to a |to )?(?:takeover|buyout|sale) (?:by|to|from)\b",
        r"\bto be (?:bought|acquired|taken over) (?:for|by|in)\b"),
       unless=(r"\b(?:rejects?|rejected|spurns?|spurned)\b",)),
    _k("deal_collapse", "deals", "negative",
       "An agreed or planned deal fails: the premium (or the strategy) is gone.",
       (r"\b(?:deal|merger|takeover|acquisition|tie-up|bid|offer|talks|sale)\b[^.;]{0,30}"
        r"\b(?:collapses?|collapsed|falls? through|fell through|falls? apart|fell apart|"
        r"abandoned|terminated|called off|scrapped|blocked|fails?|failed|ends?|ended|"
        r"off)\b",
        r"\b(?:abandons?|terminates?|calls? off|called off|walks? away from|pulls? out of|"
        r"scraps?|ends?|blocks?|blocked|drops?|dropped)\b[^.;]{0,30}\b(?:deal|merger|"
        r"takeover|acquisition|tie-up|bid|offer|talks)\b"),
       unless=(r"\b(?:strike|walkout)\b",)),
    # -- distress ----------------------------------------------------------------------
    _k("bankruptcy", "distress", "negative",
       "Court protection from creditors: shareholders are usually wiped out.",
       (r"\bchapter (?:11|7|15)\b", r"\bbankrupt(?:cy|cies)?\b", r"\binsolven(?:cy|t)\b",
        r"\b(?:enters?|entered|entering|goes into|went into|placed (?:into|in)|falls into|"
        r"fell into|collapses into|collapsed into|heads? for|calls in)\b[^.;]{0,10}"
        r"\b(?:administration|administrators|receivership|liquidation|examinership)\b",
        r"\b(?:appoints?|appointed|names?|named) administrators?\b",
        r"\bcreditor protection\b", r"\b(?:files?|filed|filing) for (?:court )?protection\b",
        r"\bprotection from creditors\b"),
       unless=(r"\bemerges? from\b", r"\bexits? (?:chapter|bankruptcy)\b")),
    _k("restructuring", "distress", "negative",
       "Debt renegotiated or the business overhauled under pressure: creditors and holders "
       "take losses, or costs come first.",
       (r"\b(?:debt|financial|balance[- ]sheet|capital) restructuring\b",
        r"\brestructur(?:e|es|ed|ing)\b[^.;]{0,20}\b(?:debt|loans?|bonds?|notes|borrowings|"
        r"obligations)\b", r"\bdebt[- ]for[- ]equity\b",
        r"\b(?:creditors?|bondholders?|lenders?)\b[^.;]{0,30}\b(?:haircut|take control|"
        r"standstill|forbearance)\b", r"\bforbearance\b", r"\bstandstill agreement\b",
        r"\bgoing[- ]concern\b", r"\brescue (?:deal|plan|package|financing|talks)\b",
        r"\brestructuring (?:talks|deal|agreement|plan|support agreement)\b")),
    _k("delisting", "distress", "negative",
       "The shares leave the exchange, or are threatened with it: fewer buyers, often a sign "
       "of distress.",
       (r"\bdelist(?:s|ed|ing)?\b", r"\bde-list(?:s|ed|ing)?\b",
        r"\b(?:non-?compliance|deficiency) notice\b",
        r"\b(?:to be )?(?:removed|suspended) from (?:trading|the (?:exchange|nasdaq|nyse))\b",
        r"\btrading (?:in (?:its )?shares )?(?:suspended|halted)\b",
        r"\bsuspends? trading\b",
        r"\btrading in\b[^.;]{0,30}\b(?:suspended|halted)\b",
        r"\bfails? to meet\b[^.;]{0,25}\blisting\b"),
       unless=(r"\bvoluntar(?:y|ily)\b[^.;]{0,20}\bdelist",)),
    # -- legal and regulatory ----------------------------------------------------------
    _k("regulatory_probe", "legal", "negative",
       "An authority investigates: fines, remedies or worse may follow.",
       (r"\b(?:probe|probes|probed|probing|investigation|investigations|investigates?|"
        r"investigated|inquiry|inquiries|enquiry|subpoena(?:s|ed)?|raid(?:s|ed)?|"
        r"scrutiny|antitrust (?:case|complaint|charges?))\b",
        r"\b(?:sec|doj|ftc|fca|cma|eu|european commission|regulators?|watchdog|authorit"
        r"(?:y|ies)|prosecutors?)\b[^.;]{0,25}\b(?:looks? into|looking into|examines?|"
        r"examining|charges?|charged|accuses?|accused|opens? (?:a )?case)\b"),
       unless=(r"\b(?:ends?|ended|closes?|closed|drops?|dropped|clears?|cleared)\b[^.;]{0,15}"
               r"\b(?:probe|investigation|inquiry)\b",)),
    _k("fine_settlement", "legal", "negative",
       "A penalty or a payment to end a case: cash out, and admission of a problem.",
       (r"\b(?:fined|fines?|penalty|penalties|penalised|penalized)\b",
        r"\b(?:settles?|settled|settling|settlement)\b[^.;]{0,40}\b(?:for|with|over|to pay|"
        r"charges?|claims?|lawsuits?|suit|probe|case|allegations|regulators?|sec|doj|ftc|"
        r"\$|€|£|eur|usd|gbp)", r"\bto pay\b[^.;]{0,25}\b(?:settle|resolve|end)\b",
        r"\b(?:agrees?|agreed) to pay\b[^.;]{0,40}\b(?:settle|resolve|charges|claims|"
        r"probe|allegations)\b"),
       unless=(r"\bfine[- ](?:chemicals?|paper|dining|art|tuning|wines?)\b",
               r"\b(?:sales|trading) settlement\b", r"\bpenalty kick\b",
               r"\bsettlement (?:date|system|bank|price)\b")),
    _k("lawsuit", "legal", "negative",
       "Someone sues the company: damages, costs, distraction.",
       (r"\b(?:sued|sues|suing|lawsuits?|class[- ]action|litigation|legal action|"
        r"court case|files? suit|filed suit|complaint (?:against|filed))\b",
        r"\b(?:loses?|lost)\b[^.;]{0,20}\b(?:case|appeal|trial|lawsuit|verdict|ruling)\b",
        r"\bverdict against\b", r"\bordered to pay\b"),
       unless=(r"\b(?:wins?|won)\b[^.;]{0,15}\b(?:lawsuit|case|appeal)\b",
               r"\b(?:dismiss(?:es|ed)?|tosses|tossed|throws? out|threw out)\b[^.;]{0,20}"
               r"\b(?:lawsuit|suit|case|claims?)\b")),
    _k("recall", "legal", "negative",
       "Products taken back: direct cost, and a question over quality.",
       (r"\brecall(?:s|ed|ing)?\b",),
       unless=(r"\brecalls? (?:that|how|when|his|her|the (?:early )?days|meeting|being)\b",)),
    # -- healthcare --------------------------------------------------------------------
    _k("drug_approval", "healthcare", "positive",
       "A regulator lets the product be sold: the revenue the price assumed can now come.",
       (r"\b(?:fda|ema|chmp|mhra|nmpa|pmda|health canada|regulators?|european commission)"
        r"\b[^.;]{0,40}\b(?:approves?|approved|approval|clears?|cleared|clearance|backs?|"
        r"backed|grants?|granted|nod|green light|positive opinion|recommends?|recommended)\b",
        r"\b(?:wins?|won|gets?|got|receives?|received|secures?|secured|gains?|gained)\b"
        r"[^.;]{0,30}\b(?:fda|ema|eu|us|regulatory|marketing|conditional|accelerated)?\s?"
        r"(?:approval|clearance|authori[sz]ation|nod|go-ahead)\b",
        r"\bapproved (?:by|in)\b[^.;]{0,20}\b(?:fda|ema|eu|us|europe|japan|china)\b",
        r"\b(?:approved|cleared|backed|authori[sz]ed|recommended) by\b[^.;]{0,25}\b(?:fda|"
        r"ema|chmp|mhra|regulators?|health authorit(?:y|ies)|european commission)\b"),
       unless=(r"\b(?:rejects?|rejected|declines? to approve|refuses?|denied|denies)\b",
               r"\b(?:shareholders?|board|court|antitrust|merger|deal|takeover|acquisition|"
               r"competition)\b[^.;]{0,30}\b(?:approv|clear)")),
    _k("drug_rejection", "healthcare", "negative",
       "A regulator says no, or not yet: the revenue is delayed or gone.",
       (r"\b(?:fda|ema|chmp|mhra|regulators?|european commission)\b[^.;]{0,40}\b(?:rejects?"
        r"|rejected|declines? to approve|refuses?|refused|turns? down|negative opinion|"
        r"complete response letter|crl|delays?|delayed|denies|denied)\b",
        r"\bcomplete response letter\b", r"\bfails? to (?:win|get|gain|secure)\b[^.;]{0,20}"
        r"\b(?:approval|clearance|nod)\b", r"\b(?:approval|clearance)\b[^.;]{0,15}\b(?:"
        r"rejected|denied|delayed)\b",
        r"\b(?:rejected|turned down) by (?:the )?(?:fda|ema|chmp|mhra|regulators?)\b",
        r"\b(?:fda|ema|regulatory) rejection\b",
        r"\b(?:receives?|received|gets?|got) (?:an? )?crl\b"),
       unless=(r"\b(?:deal|merger|takeover|acquisition)\b",)),
    _k("trial_success", "healthcare", "positive",
       "A study meets its goal: the product is closer to sale.",
       (r"\b(?:trial|study|studies|phase (?:1|2|3|i{1,3}|iii|ii)|data|readout|results)\b"
        r"[^.;]{0,40}\b(?:meets?|met|succeeds?|succeeded|positive|successful|hits?|hit|"
        r"achieves?|achieved|shows? (?:benefit|efficacy)|showed (?:benefit|efficacy)|"
        r"significant(?:ly)? (?:improv|reduc))",
        r"\b(?:meets?|met|hits?|hit|achieves?|achieved)\b[^.;]{0,20}\b(?:primary|main|"
        r"co-primary) (?:end ?point|goal|target)s?\b",
        r"\bpositive (?:phase|trial|study|topline|top-line|late-stage|data|results)\b",
        r"\b(?:shows?|showed|demonstrates?|demonstrated) (?:efficacy|benefit|promise)\b"
        r"[^.;]{0,30}\b(?:trial|study|phase)\b",
        r"\bsucceeds? in (?:a )?(?:phase|late-stage|pivotal|trial|study)",
        r"\bsignificant(?:ly)?\b[^.;]{0,40}\b(?:trial|study)\b"),
       unless=(r"\b(?:fails?|failed|misses?|missed|halts?|halted|stops?|stopped|"
               r"disappoint)\b",)),
    _k("trial_failure", "healthcare", "negative",
       "A study misses its goal or is stopped: the product may never sell.",
       (r"\b(?:trial|study|phase (?:1|2|3|i{1,3}|iii|ii)|drug|treatment|therapy|vaccine|"
        r"candidate)\b[^.;]{0,40}\b(?:fails?|failed|misses?|missed|flops?|flopped|"
        r"disappoints?|disappointed|halted|stopped|discontinued|scrapped)\b",
        r"\b(?:halts?|stops?|discontinues?|scraps?|ends?|pauses?|paused)\b[^.;]{0,25}"
        r"\b(?:trial|study|development)\b",
        r"\b(?:fails?|failed|misses?|missed) (?:to meet )?(?:its |the )?(?:primary|main) "
        r"(?:end ?point|goal)s?\b", r"\bclinical hold\b"),
       unless=(r"\b(?:deal|merger|takeover|acquisition|talks)\b",)),
    # -- business ----------------------------------------------------------------------
    _k("contract_win", "business", "positive",
       "New orders: revenue the market may not have counted yet.",
       (r"\b(?:wins?|won|winning|secures?|secured|securing|lands?|landed|bags?|bagged|"
        r"clinches?|clinched|awarded|receives?|received|gets?|signs?|signed|books?|booked|"
        r"inks?|inked|nabs?)\b[^.;]{0,50}\b(?:contracts?|orders?|deals?|tenders?|"
        r"agreements?|awards?|supply deal|framework)\b",
        r"\b(?:contract|order|deal)\b[^.;]{0,20}\b(?:worth|valued at)\b",
        r"\b(?:awards?|picks?|selects?|chooses?|taps?)\b[^.;]{0,40}\bcontract\b"),
       unless=(r"\b(?:loses?|lost|cancels?|cancell?ed|terminates?|terminated|scraps?|"
               r"scrapped|ends?|ended)\b[^.;]{0,25}\b(?:contract|order|deal)",
               r"\b(?:settle|settlement|probe|plea|fine|penalt)",
               r"\b(?:deal|agreement)\b[^.;]{0,20}\b(?:to (?:buy|acquire|merge|sell)|for "
               r"(?:the )?(?:acquisition|takeover|merger))\b",
               r"\b(?:buy|acquire|merge|takeover|acquisition|merger) (?:deal|agreement)\b",
               r"\b(?:bankruptcy|chapter 11|administration|restructuring|wage|pay|"
               r"labou?r|union|trade|licen[cs]ing|settle|creditors?|lenders?|bondholders?)"
               r"\b[^.;]{0,15}\b(?:deal|agreement)\b",
               r"\bdeal\b[^.;]{0,15}\b(?:with (?:creditors|lenders|unions?|bondholders)|"
               r"to end)\b", r"\b(?:standstill|forbearance|power purchase|licensing|"
               r"partnership|cooperation|memorandum|collaboration)\s+(?:agreement|deal)")),
    _k("contract_loss", "business", "negative",
       "Orders lost or cancelled: revenue the market counted is gone.",
       (r"\b(?:loses?|lost|losing)\b[^.;]{0,30}\b(?:contracts?|orders?|tenders?|customers?|"
        r"clients?|accounts?|bid for)\b", r"\bloses?\b[^.;]{0,25}\bbusiness\b(?! day)",
        r"\b(?:cancels?|cancell?ed|cancelling|terminates?|terminated|scraps?|scrapped|"
        r"pulls?|pulled|ends?|ended|drops?|dropped|axes|axed)\b[^.;]{0,30}\b(?:contracts?|"
        r"orders?|supply deal|agreement with)\b",
        r"\b(?:contract|order|orders)\b[^.;]{0,15}\b(?:cancell?ed|terminated|scrapped|"
        r"lost|pulled)\b"),
       unless=(r"\b(?:deal|merger|takeover|acquisition) (?:talks)?\b[^.;]{0,15}\b(?:"
               r"terminated|scrapped|collapses|called off)\b",)),
    _k("layoffs", "business", "negative",
       "Jobs cut: usually a sign demand is weak (sometimes welcomed as cost control; the "
       "default follows the annotated data, which reads it as negative).",
       (r"\b(?:cuts?|cutting|slash|slashes|slashed|slashing|axe|axes|axed|axing|eliminates?|"
        r"eliminated|sheds?|shedding|lays? off|laid off|laying off|to shed|to lay off|"
        r"reduces?|reduced|trims?|trimmed|scraps?|scrapped)\b[^.;]{0,30}\b(?:jobs?|"
        r"workers?|employees?|staff|positions?|roles?|workforce|headcount|people)\b",
        r"\b(?:layoffs?|lay-offs?|redundancies|job cuts?|job losses|job reductions?|"
        r"staff cuts?|workforce reductions?|headcount reductions?)\b",
        r"\b(?:jobs?|positions?|roles?)\b[^.;]{0,10}\b(?:at risk|to go|axed|cut|lost)\b"),
       unless=(r"\b(?:adds?|hires?|hiring|creates?|creating)\b[^.;]{0,15}\bjobs\b",)),
    _k("plant_closure", "business", "negative",
       "Capacity shut: demand or costs no longer justify it.",
       (r"\b(?:clos(?:es?|ed|ing|ure)|shut(?:s|ting)?(?: down)?|shutters?|shuttered|"
        r"mothballs?|mothballed|idles?|idled)\b[^.;]{0,40}\b(?:plants?|factor(?:y|ies)|"
        r"mills?|mines?|smelters?|refiner(?:y|ies)|sites?|facilit(?:y|ies)|stores?|"
        r"shops?|branches|branch|outlets?|offices?|warehouses?|operations? in|works|"
        r"production lines?|units?|machines?|pharmacies|restaurants|hotels|depots?|"
        r"locations|lines)\b",
        r"\b(?:plant|factory|mill|mine|refinery|smelter|store|branch)\b[^.;]{0,15}\b(?:"
        r"closures?|to close|shut|shutdown)\b"),
       unless=(r"\b(?:reopens?|reopened|restarts?)\b", r"\bclose(?:s|d)? (?:at|up|down|"
               r"higher|lower) \d", r"\bdeal closes\b", r"\bcloses? (?:the )?(?:deal|"
               r"acquisition|sale|purchase|offering|round)\b")),
    _k("strike", "business", "negative",
       "Work stops: lost output and, after, higher wages.",
       (r"\bstrikes?\b(?![^.;]{0,30}\b(?:deal|agreement|accord|balance|price|a chord)\b)",
        r"\bwalk(?:-| )?outs?\b", r"\bwalk off the job\b", r"\bindustrial action\b",
        r"\b(?:workers|staff|employees|unions?|pilots|dockers|miners|drivers)\b[^.;]{0,20}"
        r"\b(?:down tools|stop work|stage stoppage|go on strike|went on strike)\b",
        r"\bwork stoppages?\b", r"\block-?out\b"),
       unless=(r"\bstrike price\b", r"\bstrikes? (?:a |an )?(?:deal|agreement|accord|"
               r"partnership|balance|tone|gold|oil)\b", r"\bend(?:s|ed)? (?:the |a )?strike",
               r"\bair ?strikes?\b", r"\bdrone strikes?\b")),
    _k("management_exit", "management", "negative",
       "A leader leaves, often suddenly: a question over strategy or something worse.",
       (r"\b(?:ceo|cfo|coo|chief executive|chief financial officer|chief operating officer|"
        r"chairman|chairwoman|chair|president|boss|founder|head|chief)\b[^.;]{0,40}\b(?:"
        r"resigns?|resigned|resigning|quits?|quitting|steps? down|stepped down|stepping "
        r"down|departs?|departed|to leave|leaves|left|ousted|exits?|exited|fired|sacked|"
        r"dismissed|retires?|retiring|to retire|to step down|to depart|to exit)\b",
        r"\b(?:ousts?|ousted|fires?|fired|sacks?|sacked|dismisses|dismissed|removes?|"
        r"removed|replaces?|replaced)\b[^.;]{0,25}\b(?:ceo|cfo|coo|chief executive|chairman|"
        r"chair|boss|president)\b",
        r"\b(?:resignation|departure|exit|ouster|sudden exit|abrupt departure) of\b"
        r"[^.;]{0,30}\b(?:ceo|cfo|chief|chairman|president|boss)\b",
        r"\b(?:ceo|cfo|chief executive|chairman|boss)(?:'s)? (?:resignation|departure|"
        r"exit|ouster)\b"),
       unless=(r"\bstep(?:s|ping)? down (?:from (?:the )?board to|as chair to become)",)),
    _k("appointment", "management", "neutral",
       "A new leader named: news, but its direction depends on who and why.",
       (r"\b(?:appoints?|appointed|names?|named|hires?|hired|picks?|picked|taps?|tapped|"
        r"elects?|elected|promotes?|promoted|recruits?|recruited|nominates?|nominated)"
        r"\b[^.;]{0,40}\b(?:ceo|cfo|coo|cto|chief|chairman|chairwoman|chair|president|"
        r"head|director|officer|boss|board member|manager)\b",
        r"\b(?:new|incoming|interim) (?:ceo|cfo|chief executive|chairman|chief financial "
        r"officer|boss)\b", r"\bto (?:succeed|replace)\b[^.;]{0,30}\b(?:as|ceo|cfo|chief)\b",
        r"\b(?:joins?|joined) (?:as|the board)\b",
        r"\bto become\b[^.;]{0,30}\b(?:ceo|cfo|coo|chairman|chair|chief|president)\b"),
       unless=(r"\b(?:administrators?|receivers?|liquidators?|advisers?|advisors?|banks?|"
               r"auditors?)\b(?![^.;]{0,10}\b(?:ceo|chief|head)\b)",)),
    _k("index_inclusion", "market", "positive",
       "Added to an index: index funds must buy the shares.",
       (r"\b(?:joins?|joined|to join|added to|adds?|to be added to|included in|inclusion in|"
        r"enters?|entered|to enter|promoted to|will join|set to join)\b[^.;]{0,25}\b(?:"
        r"s&p ?500|s&p|nasdaq[- ]100|dow|ftse ?100|ftse ?250|dax|mdax|cac ?40|stoxx|"
        r"euro ?stoxx|msci|russell|nikkei|omx|index|benchmark)\b",
        r"\b(?:s&p ?500|500|100|50|dax|stoxx|msci|russell|nikkei|omx|index) (?:inclusion|"
        r"addition)\b"),
       unless=(r"\b(?:removed|dropped|deleted|demoted|exits?|leaves?|relegated|excluded|"
               r"ejected|kicked)\b",)),
    _k("index_exclusion", "market", "negative",
       "Dropped from an index: index funds must sell the shares.",
       (r"\b(?:removed from|dropped from|drops? out of|deleted from|demoted from|demoted to|"
        r"exits?|exited|leaves?|left|relegated from|relegated to|excluded from|ejected from|"
        r"kicked out of|to be removed from|to exit|to leave|falls? out of|fell out of|"
        r"to drop out of)\b[^.;]{0,25}\b(?:s&p ?500|s&p|nasdaq[- ]100|dow|ftse ?100|"
        r"ftse ?250|dax|mdax|cac ?40|stoxx|euro ?stoxx|msci|russell|nikkei|omx|index|"
        r"benchmark)\b",
        r"\b(?:s&p ?500|500|100|50|dax|stoxx|msci|russell|nikkei|omx|index) (?:exit|exclusion|"
        r"removal|deletion)\b")),
    _k("cyber_incident", "business", "negative",
       "Systems breached or held to ransom: costs, outages, liability.",
       (r"\b(?:cyber[- ]?attacks?|cyber[- ]?incidents?|cyber[- ]?security incident|hack(?:s|ed"
        r"|ers?|ing)?|ransomware|data breach(?:es)?|security breach(?:es)?|breach of "
        r"(?:customer|user|personal) data|systems? (?:outage|breach)|it outage|"
        r"malware|phishing attack|leak(?:s|ed)? (?:customer|user|personal) data)\b",)),
    _k("scheduling", "calendar", "neutral",
       "When something will happen (results dates, calls, meetings): no news about the "
       "business itself.",
       (r"\b(?:to|will) (?:publish|report|release|announce|present|host|hold)\b[^.;]{0,40}"
        r"\b(?:results|earnings|report|call|webcast|meeting|agm|capital markets day|"
        r"investor day)\b[^.;]{0,40}\b(?:on|at|in)\b",
        r"\b(?:results|earnings|interim report|financial statements?|annual report)\b"
        r"[^.;]{0,20}\b(?:date|calendar|release date|schedule)\b",
        r"\b(?:conference call|webcast|earnings call|capital markets day|investor day|"
        r"annual general meeting|agm|egm|shareholders'? meeting)\b[^.;]{0,40}\b(?:on|at|"
        r"scheduled|to be held|will be held|invitation|notice)\b",
        r"\b(?:invitation to|notice of)\b[^.;]{0,30}\b(?:meeting|agm|egm|call|webcast|"
        r"presentation|capital markets day|investor day|results)\b", r"\bfinancial calendar\b",
        r"\bsets? (?:the )?date\b[^.;]{0,20}\b(?:results|earnings|report|agm|meeting)\b",
        r"\b(?:to|will) (?:publish|report|release|announce)\b[^.;]{0,25}\b(?:results|"
        r"earnings)\b[^.;]{0,5}\b(?:january|february|march|april|may|june|july|august|"
        r"september|october|november|december)\b",
        r"\bschedules?\b[^.;]{0,30}\b(?:meeting|agm|egm|call|webcast|results|earnings)\b")),
)

KINDS: dict[str, EventKind] = {k.name: k for k in TAXONOMY}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(k.group for k in TAXONOMY))


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


#: Pairs where the first, when both match, says more than the second (a more specific
#: phrasing of the same news); the second is dropped.
_SUPERSEDES: tuple[tuple[str, str], ...] = (
    ("dividend_suspended", "dividend_cut"),
    ("guidance_withdrawn", "guidance_cut"),
    ("guidance_withdrawn", "guidance_reaffirmed"),
    ("profit_warning", "guidance_cut"),
    ("credit_upgrade", "analyst_upgrade"), ("credit_downgrade", "analyst_downgrade"),
    ("price_target_raised", "guidance_raised"), ("price_target_cut", "guidance_cut"),
    ("takeover_target", "acquisition"), ("deal_collapse", "acquisition"),
    ("deal_collapse", "takeover_target"),
    ("bankruptcy", "restructuring"), ("bankruptcy", "default"),
    ("drug_rejection", "drug_approval"), ("trial_failure", "trial_success"),
    ("contract_loss", "contract_win"), ("index_exclusion", "index_inclusion"),
    ("management_exit", "appointment"), ("dividend_initiated", "dividend_raised"),
    ("fine_settlement", "lawsuit"), ("fine_settlement", "regulatory_probe"),
    ("buyback", "acquisition"),
    ("earnings_beat", "earnings_miss"),
)


_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")


class EventTagger:
    """The taxonomy's patterns, compiled once. `tag(text)` is the kinds in taxonomy order."""

    def __init__(self, kinds: tuple[EventKind, ...] = TAXONOMY) -> None:
        self.kinds = kinds
        self._find = [(k, _compile(k.patterns), _compile(k.unless)) for k in kinds]
        names = {k.name for k in kinds}
        self._supersedes = [(a, b) for a, b in _SUPERSEDES if a in names and b in names]

    def _matches(self, text: str) -> dict[str, str]:
        # "$3.7 billion": a decimal point is not a sentence end for the `[^.;]` spans.
        folded = _DECIMAL.sub(",", " ".join(text.split()))
        found: dict[str, str] = {}
        for kind, find, veto in self._find:
            if find is None:
                continue
            m = find.search(folded)
            if m and not (veto and veto.search(folded)):
                found[kind.name] = m.group(0)
        for a, b in self._supersedes:
            if a in found and b in found:
                del found[b]
        return found

    def tag(self, text: str) -> list[str]:
        return list(self._matches(text))

    def tag_many(self, texts: list[str]) -> list[list[str]]:
        return [self.tag(t) for t in texts]

    def explain(self, text: str) -> dict[str, str]:
        """Each kind found and the phrase that matched it."""
        return self._matches(text)


@lru_cache(maxsize=1)
def default_tagger() -> EventTagger:
    return EventTagger()


def tag(text: str) -> list[str]:
    return default_tagger().tag(text)


@lru_cache(maxsize=8192)
def tag_cached(text: str) -> tuple[str, ...]:
    """`tag`, remembered: a headline is tagged once whether the event layer
    (core.adapters.event_layer) or the prediction's `events` asks first."""
    return tuple(default_tagger().tag(text))


def validate_kind(name: str) -> str:
    """The kind's name, or a ValueError listing the kinds (for queries and CLI flags)."""
    if name not in KINDS:
        raise ValueError(f"unknown event kind {name!r}; one of: {', '.join(KINDS)}")
    return name


def markdown_table() -> str:
    """The taxonomy as the Markdown table in docs/events.md."""
    lines = ["| kind | group | polarity | why |", "|---|---|---|---|"]
    lines += [f"| `{k.name}` | {k.group} | {k.polarity} | {k.reason} |" for k in TAXONOMY]
    return "\n".join(lines) + "\n"
