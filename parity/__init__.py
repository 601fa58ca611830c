"""netc's parity checker: proves an nft ruleset and an iptables ruleset behave the same.

Reads emitted *text* only (never netc's IR or emitters), lowers both into one normal form
(`model.py`), evaluates them on a netfilter model (`evaluate.py`, `symbolic.py`) over every packet
class induced by their constants (`classes.py`), and reports the simplest counterexample.

Public API:
    load_ruleset(paths_or_texts) -> Ruleset
    parse_nft(text, filename) -> Ruleset
    parse_iptables(text, family, filename) -> Ruleset
    verify(a, b, *, br_netfilter=True) -> VerifyResult
    format_result(result) -> str
    check_spec(ruleset, networks) -> list[SpecFailure]
"""

from .equivalence import Counterexample, VerifyResult, verify
from .evaluate import Evaluation, Outcome, Packet, evaluate
from .ipt_parse import parse_iptables
from .load import load_ruleset
from .model import Family, ParityError, Path, Ruleset
from .nft_parse import parse_nft
from .report import format_result
from .spec import SpecFailure, SpecNetwork, check_spec

__all__ = [
    "Counterexample",
    "Evaluation",
    "Family",
    "Outcome",
    "Packet",
    "ParityError",
    "Path",
    "Ruleset",
    "SpecFailure",
    "SpecNetwork",
    "VerifyResult",
    "check_spec",
    "evaluate",
    "format_result",
    "load_ruleset",
    "parse_iptables",
    "parse_nft",
    "verify",
]
