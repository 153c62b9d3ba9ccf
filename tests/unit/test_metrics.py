import pytest

from ocrops.metrics import cer, score, term_recall, wer


def test_cer_pools_edits_over_reference_characters():
    assert cer(["abc", "xyz"], ["abc", "xyz"]) == 0
    assert cer(["abd", ""], ["abc", "x"]) == pytest.approx(2 / 4)
    assert cer(["钾 5.40 mmol/L"], ["钾(K⁺) 5.40 mmol/L"]) == pytest.approx(4 / 17)


def test_wer_on_tokens():
    assert wer(["Amoxicillin 500mg bid"], ["Amoxicillin 500 mg bid"]) == pytest.approx(2 / 4)


def test_term_recall_counts_terms_in_references_only():
    refs = ["阿莫西林胶囊 0.5g 口服", "肌酐(Cr) 88 μmol/L", "no terms here"]
    preds = ["阿莫西林胶嚢 0.5g 口服", "肌酐(Cr) 88 μmol/L", "whatever"]
    assert term_recall(preds, refs, ["阿莫西林胶囊", "口服", "μmol/L", "肌酐(Cr)"]) == pytest.approx(3 / 4)
    assert term_recall(preds, refs, ["absent"]) is None


def test_score_bundle():
    s = score(["a b", "c"], ["a b", "d"], ["a"])
    assert (s.exact_match, s.lines, s.term_recall) == (0.5, 2, 1.0)
