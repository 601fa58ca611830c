"""`netc verify --sample N`: seeded random packets inside the classes, both sides compared."""

from __future__ import annotations

from helpers import GOLDEN, golden_pair, golden_text, nft

from netc.parity import evaluate
from netc.parity.sample import format_sample, sample


def test_golden_pair_has_no_sampled_difference_and_is_reproducible():
    a, b = golden_pair("port-forward")
    first = sample(a, b, 300, seed=7, br_netfilter=False)
    assert (first.drawn, first.differing, first.examples) == (300, 0, ())
    assert sample(a, b, 300, seed=7, br_netfilter=False) == first


def test_sampling_finds_a_real_difference():
    _, b = golden_pair("default")
    text = golden_text("default", "setup.nft")
    a = nft(text.replace("masquerade to :1024-65535", "masquerade to :2000-65535"), "mut.nft")
    result = sample(a, b, 2000, seed=1)
    assert result.differing > 0 and result.examples
    for ex in result.examples:
        assert evaluate(a, ex.packet).outcome != evaluate(b, ex.packet).outcome
    assert "treated differently" in format_sample(result)


def test_cli_sample_option(tmp_path, capsys):
    from netc.cli import main

    g = GOLDEN / "default"
    ipt = f"{g / 'setup.iptables'}+{g / 'setup.ip6tables'}"
    assert main(["verify", str(g / "setup.nft"), ipt, "--sample", "200"]) == 0
    assert "sampled 200 random packets (seed 0): 0 treated differently" in capsys.readouterr().out
    assert main(["verify", ipt, "--spec", str(g / "input.net"), "--sample", "5"]) == 2
    capsys.readouterr()
