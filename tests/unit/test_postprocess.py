"""Post-processing chain: lexicon correction, rule hooks, PII redaction with checksums."""

from __future__ import annotations

import pytest

from ocrops.config import PostprocessParams, RedactParams
from ocrops.errors import OcropsError
from ocrops.postprocess import LexiconCorrector, Postprocessor, luhn_valid, redact, resident_id_valid

LEXICON = ["阿莫西林胶囊", "红细胞计数(RBC)", "Specimen", "头孢克肟片", "头孢克洛片", "mmol/L", "血糖"]


class Upper:
    """A user rule: module:ClassName, called with the text."""

    def __call__(self, text: str) -> str:
        return text.upper()


@pytest.mark.parametrize("number", ["4111111111111111", "6222021234567890128", "378282246310005"])
def test_luhn_accepts_valid_card_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "6222021234567890125"])
def test_luhn_rejects_a_wrong_check_digit(number: str) -> None:
    assert not luhn_valid(number)


def test_resident_id_checksum_and_birth_date() -> None:
    assert resident_id_valid("11010519491231002X")
    assert resident_id_valid("11010519491231002x")
    assert not resident_id_valid("110105194912310021")  # wrong check character
    assert not resident_id_valid("110105194913310029")  # month 13


def test_redaction_masks_only_numbers_whose_checksum_holds() -> None:
    text = "卡号 4111 1111 1111 1111 备用 4111111111111112 身份证 11010519491231002X 假 110105194912310021"
    out = redact(text)
    assert out == "卡号 [BANK_CARD] 备用 4111111111111112 身份证 [ID_NUMBER] 假 110105194912310021"


def test_redaction_of_phones_and_emails() -> None:
    out = redact("电话 13812345678, +86 139-1234-5678, 010-62345678; mail dr.li@hospital.example.cn")
    assert out == "电话 [PHONE], [PHONE], [PHONE]; mail [EMAIL]"


def test_redaction_leaves_lab_values_and_dates() -> None:
    text = "白细胞 5.6 ×10⁹/L 2024-10-16 13:55 住院号 ZY2025000911 1234567890123"
    assert redact(text) == text


def test_each_kind_of_redaction_can_be_switched_off() -> None:
    text = "13812345678 a@b.cn"
    assert redact(text, phone=False) == "13812345678 [EMAIL]"
    assert redact(text, email=False) == "[PHONE] a@b.cn"


def test_lexicon_correction_fixes_a_near_miss() -> None:
    fix = LexiconCorrector(LEXICON)
    assert fix("Specinen: Serum") == "Specimen: Serum"
    assert fix("阿莫西林胶裹 0.25g") == "阿莫西林胶囊 0.25g"
    assert fix("红细胞计数（RBC）5.99") == "红细胞计数(RBC)5.99"  # a widened span: no bracket left over


def test_lexicon_correction_never_rewrites_digits_or_another_term() -> None:
    fix = LexiconCorrector(LEXICON + ["Na 135 mmol/L"])
    assert fix("头孢克洛片 0.25g") == "头孢克洛片 0.25g"  # a real term stays, though close to 头孢克肟片
    assert fix("mmo1/L") == "mmo1/L"  # the span holds a digit
    assert fix("Na 136 mmol/L") == "Na 136 mmol/L"  # terms with digits are never targets
    assert fix("血塘") == "血塘"  # two-character terms match too much by chance


def test_lexicon_correction_never_rewrites_part_of_a_longer_word() -> None:
    assert LexiconCorrector(["INR"], min_term_length=3)("INTRODUCTION") == "INTRODUCTION"
    assert LexiconCorrector(["Specimen"])("Specinens arrived") == "Specinens arrived"  # a longer Latin word
    fix = LexiconCorrector(["甲泼尼龙片"])
    assert fix("甲泼尼龙琥珀酸钠") == "甲泼尼龙琥珀酸钠"  # the edit would be where the word runs on
    assert fix("甲泼尼龙斤 4mg") == "甲泼尼龙片 4mg"  # the same near miss, ending at a boundary
    assert fix("口服甲泼尼垅片") == "口服甲泼尼龙片"  # an edit inside the term, though preceded by text


def test_short_terms_are_never_matched_against_other_text() -> None:
    assert LexiconCorrector(["INR", "HGB"])("INT HG8 HGE") == "INT HG8 HGE"  # below min_term_length (4)
    assert LexiconCorrector(["Creatinine"], min_term_length=20)("Creatinlne") == "Creatinlne"
    assert LexiconCorrector(["Creatinine"])("Creatinlne") == "Creatinine"


def test_chain_corrects_only_low_confidence_lines() -> None:
    chain = Postprocessor(PostprocessParams(max_confidence=0.9), LEXICON)
    assert chain("Specinen", confidence=0.5) == "Specimen"
    assert chain("Specinen", confidence=0.95) == "Specinen"
    assert chain("Specinen", confidence=0.5, correct=False) == "Specinen"


def test_chain_runs_rules_then_redaction_with_per_call_switches() -> None:
    settings = PostprocessParams(rules=[f"{__name__}:Upper"], redact=RedactParams(email=False))
    chain = Postprocessor(settings, [])
    assert chain("call 13812345678 or a@b.cn", confidence=1.0) == "CALL [PHONE] OR A@B.CN"
    assert chain("call 13812345678", confidence=1.0, redact_pii=False) == "CALL 13812345678"
    assert chain("a@b.cn", confidence=1.0, redact_pii=True) == "[EMAIL]"


def test_a_rule_that_cannot_be_loaded_names_itself() -> None:
    with pytest.raises(OcropsError, match="no_such_module:Rule") as err:
        Postprocessor(PostprocessParams(rules=["no_such_module:Rule"]), [])
    assert err.value.code == 4002
    with pytest.raises(OcropsError, match="module:ClassName"):
        Postprocessor(PostprocessParams(rules=["just_a_module"]), [])


def test_chain_saves_and_loads_with_the_model(tmp_path) -> None:
    chain = Postprocessor(PostprocessParams(max_confidence=0.8, redact=RedactParams(phone=False)), LEXICON)
    loaded = Postprocessor.load(chain.save(tmp_path))
    assert loaded.settings == chain.settings and loaded.lexicon == LEXICON
    assert loaded("Specinen 13812345678", confidence=0.1) == "Specimen 13812345678"
