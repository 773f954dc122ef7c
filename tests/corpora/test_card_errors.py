"""A broken corpus card is one ConfigError naming the file, the key and what a card needs."""
from __future__ import annotations

import pytest

from spoofbench.corpora.cards import load_card
from spoofbench.errors import ConfigError


def test_a_card_without_a_required_key_names_it(tmp_path):
    card = tmp_path / "x.yaml"
    card.write_text("name: x\nrecipes: [a]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_card(card)
    assert info.value.field == "expected" and str(card) in str(info.value)
    assert "required key missing" in str(info.value) and "name, recipes, expected" in str(info.value)


def test_a_card_that_is_not_a_mapping_says_what_it_is(tmp_path):
    card = tmp_path / "x.yaml"
    card.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping of card fields, got list"):
        load_card(card)
