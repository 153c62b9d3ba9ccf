import pytest

from ocrops.evaluation.metrics import cer, score, term_recall, wer


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


def test_buckets_by_length_digits_script_and_vocabulary():
    from ocrops.evaluation.metrics import buckets

    assert buckets("肌酐 88") == ["length 1-10", "with digits", "with CJK"]
    assert buckets("Specimen: Serum collected", {"⑨"}) == ["length 11-25", "no digits", "Latin only", "in vocabulary"]
    assert buckets("⑨ " + "x" * 30, {"⑨"})[0::3] == ["length over 25", "with OOV chars"]


def test_cer_by_bucket_pools_each_bucket():
    from ocrops.evaluation.metrics import cer_by_bucket

    by = cer_by_bucket(["肌酐 88", "abc"], ["肌酐 89", "abd"])
    assert by["with digits"] == {"lines": 1, "cer": 1 / 5}
    assert by["length 1-10"] == {"lines": 2, "cer": 2 / 8}


def test_confusions_count_substitutions_insertions_and_deletions():
    from ocrops.evaluation.metrics import EMPTY, confusions, top_confusions

    pairs = confusions(["9 mg", "ab"], ["⑨ mg", "abc"])
    assert pairs == [("⑨", "9"), ("c", EMPTY)]
    assert top_confusions(["9", "9", "x"], ["⑨", "⑨", ""], n=1) == [{"reference": "⑨", "predicted": "9", "count": 2}]
