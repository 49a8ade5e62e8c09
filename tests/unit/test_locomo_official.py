"""LoCoMo's official QA score (task_eval/evaluation.py) against values computed by hand."""

from __future__ import annotations

import pytest

from membench_tasks.locomo.official import (
    CATEGORIES,
    multi_answer_f1,
    normalize_answer,
    official_score,
    says_not_available,
    stems,
    token_f1,
)


def test_categories_are_named_by_the_files_numbering() -> None:
    assert CATEGORIES == {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def test_normalisation_drops_commas_case_punctuation_articles_and_and() -> None:
    assert normalize_answer("The cat, and a Dog!") == "cat dog"
    assert normalize_answer("  An  apple's   core. ") == "apples core"


def test_words_are_compared_by_porter_stem() -> None:
    assert stems("Hobbies named running") == ["hobbi", "name", "run"]


def test_token_f1_by_hand() -> None:
    # prediction stems [dog, is, name, biscuit], key [biscuit]: P = 1/4, R = 1, F1 = 0.5 / 1.25
    assert token_f1("The dog is named Biscuit", "Biscuit") == pytest.approx(0.4)
    # [she, went, run] against [run]: P = 1/3, R = 1
    assert token_f1("She went running", "run") == pytest.approx(0.5)
    # a repeated token counts once against a key that has it once: P = 1/2, R = 1
    assert token_f1("dog dog", "dog") == pytest.approx(2 / 3)
    assert token_f1("", "dog") == 0.0 and token_f1("cat", "dog") == 0.0


def test_single_hop_and_temporal_score_plain_f1() -> None:
    assert official_score("7 May 2023", "7 May, 2023", 2) == 1.0
    assert official_score("The dog is named Biscuit", "Biscuit", 4) == pytest.approx(0.4)


def test_multi_hop_takes_each_key_parts_best_prediction_part() -> None:
    # key "hiking": best of (painting 0, hiking 1) = 1; key "swimming": 0; mean 0.5
    assert multi_answer_f1("painting, hiking", "hiking, swimming") == pytest.approx(0.5)
    assert official_score("painting, hiking", "hiking, swimming", 1) == pytest.approx(0.5)
    # without comma parts it is F1 of the whole: [paint, hike] vs [hike]: P = 1/2, R = 1
    assert official_score("painting and hiking", "hiking", 1) == pytest.approx(2 / 3)


def test_open_domain_scores_the_key_before_its_semicolon() -> None:
    # key "Likely yes" -> [like, ye]; prediction [ye]: P = 1, R = 1/2
    assert official_score("yes", "Likely yes; she rows in a club", 3) == pytest.approx(2 / 3)
    assert official_score("she rows in a club", "Likely yes; she rows in a club", 3) == 0.0


@pytest.mark.parametrize(
    ("prediction", "right"),
    [
        ("Not mentioned in the conversation.", True),
        ("No information available", True),
        ("That was never NOT MENTIONED, I think", True),  # the rule is a substring test, as the original's
        ("Unknown", True),  # membench's readers' abstention (official.py docstring)
        ("Unknown.", True),
        ("They cooked paella", False),
        ("I don't know", False),  # the original's rule does not accept it
        ("Unknown, but probably paella", False),
    ],
)
def test_adversarial_is_right_when_the_answer_says_it_is_not_available(prediction: str, right: bool) -> None:
    assert says_not_available(prediction) is right
    assert official_score(prediction, "paella", 5) == float(right)


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="LoCoMo has no category 6"):
        official_score("x", "x", 6)
