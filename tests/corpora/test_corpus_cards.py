"""Corpus cards agree with the recipes and with the real protocol files."""
from __future__ import annotations

import pytest

from spoofbench.corpora import RECIPES
from spoofbench.corpora.cards import all_cards, check_protocol_file

from corpora_testutil import PROTOCOLS


def test_cards_match_recipes():
    cards = all_cards()
    assert {"asvspoof2019_la", "asvspoof2021_la", "asvspoof2021_df", "asvspoof5", "in_the_wild",
            "wavefake", "fakeorreal", "mlaad"} <= set(cards)
    covered = set()
    for card in cards.values():
        for recipe in card.recipes:
            assert dict(card.expected[recipe]) == dict(RECIPES.get(recipe).expected)
            covered.add(recipe)
    assert covered == set(RECIPES.names()) - {"csv", "folder"}


@pytest.mark.parametrize("relative", ["asvspoof2019_la/ASVspoof2019.LA.cm.train.trn.txt",
                                      "asvspoof2019_la/ASVspoof2019.LA.cm.eval.trl.txt",
                                      "asvspoof2021_la/ASVspoof2021.LA.cm.eval.trl.txt",
                                      "in_the_wild/labels.txt"])
def test_shared_protocols_match_card_checksums(relative, tmp_path):
    path = PROTOCOLS / relative
    if not path.is_file():
        pytest.skip(f"{path} not available")
    assert "matches" in check_protocol_file(path)
    edited = tmp_path / path.name
    edited.write_bytes(path.read_bytes()[:-10])
    assert "differs" in check_protocol_file(edited)


def test_prepare_cli_checks_protocol_checksums(tmp_path, capsys):
    folder = PROTOCOLS / "asvspoof2019_la"
    if not folder.is_dir():
        pytest.skip("shared ASVspoof 2019 LA protocols not available")
    from spoofbench import cli
    from spoofbench.corpora.manifest import read_manifest

    code = cli.main(["prepare", "asvspoof2019_la", "--root", str(tmp_path), "--protocol",
                     str(folder), "--out", str(tmp_path / "out"), "--split", "dev",
                     "--no-check-audio"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ASVspoof2019.LA.cm.dev.trl.txt: sha256 matches the asvspoof2019_la card (dev)" in out
    assert "protocol lists 24,844, published 24,844: match" in out
    assert sum(1 for _ in read_manifest(tmp_path / "out" / "asvspoof2019_la_dev.jsonl.gz")) == 24_844
