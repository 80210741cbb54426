"""Text preparation per language: numbers, currency, ordinals, years, percentages and
abbreviations read out in the story's language; sentences split per language; 。、！？ and ¿¡."""
from __future__ import annotations

import pytest

from engine.errors import BadInput
from engine.languages import CODES, LANGUAGES, language, normalize_code
from engine.narration.sentences import normalize_text, prepare_text
from engine.spec import JobSpec


@pytest.mark.parametrize("lang, text, said", [
    ("es", "El Sr. García pagó 1.250 € en 1990.",
     "El señor García pagó mil doscientos cincuenta euros en mil novecientos noventa."),
    ("es", "Subió un 25% el 3 de mayo.", "Subió un veinticinco por ciento el tres de mayo."),
    ("es", "Llegó la 1ª y el 2º.", "Llegó la primera y el segundo."),
    ("es", "Costó $3,50.", "Costó tres dólares con cincuenta centavos."),
    ("fr", "Le 1er janvier, M. Dupont a payé 20 €, soit 25 %.",
     "Le premier janvier, monsieur Dupont a payé vingt euros, soit vingt-cinq pour cent."),
    ("de", "Am 3. Mai 1990 kostete es 3,5 Millionen, z.B. 12%.",
     "Am dritte Mai neunzehnhundertneunzig kostete es drei Komma fünf Millionen, "
     "zum Beispiel zwölf Prozent."),
    ("it", "Il Sig. Rossi pagò €12,50.", "Il signor Rossi pagò dodici euro e cinquanta centesimi."),
    ("pt", "Custou R$ 1.500,00.", "Custou mil e quinhentos reais."),
    ("nl", "In 1990 betaalde hij 15 euro.", "In negentien honderd negentig betaalde hij vijftien euro."),
    ("pl", "Zapłacił 21 zł, tj. dużo.", "Zapłacił dwadzieścia jeden złotych, to jest dużo."),
    ("tr", "Fiyat %50 arttı.", "Fiyat yüzde elli arttı."),
    ("ru", "Он заплатил $5 и 21 $.", "Он заплатил пять долларов и двадцать один доллар."),
    ("cs", "Stálo to 120 korun, tj. hodně.", "Stálo to sto dvacet korun, to jest hodně."),
    ("ar", "دفع 3.5 دولار.", "دفع ثلاثة فاصلة خمسة دولار."),
    ("ar", "انتظر ١٢٠ عامًا.", "انتظر مائة و عشرون عامًا."),
    ("ja", "価格は¥500だった。", "価格は五百円だった。"),
    ("ja", "それは120年前のこと。", "それは百二十年前のこと。"),
    ("ko", "등대는 120년 동안 서 있었다.", "등대는 백이십 년 동안 서 있었다."),
    ("fr", "Il a payé 25 000 € pour 3 000 000 de livres.",
     "Il a payé vingt-cinq mille euros pour trois millions de livres."),
    ("ru", "Стоило 25 000 рублей.", "Стоило двадцать пять тысяч рублей."),
    # dates (day first; ISO) and times, as each language says them
    ("es", "El 15/03/2024 a las 9:05.", "El quince de marzo de dos mil veinticuatro a las nueve y cinco."),
    ("fr", "Le 01/05/1990 à 18h30.",
     "Le premier mai mille neuf cent quatre-vingt-dix à dix-huit heures trente."),
    ("de", "Am 15.03.2024 um 9:00.", "Am fünfzehnte März zweitausendvierundzwanzig um neun Uhr."),
    ("ru", "Это было 2024-03-15.", "Это было пятнадцать марта две тысячи двадцать четыре."),
    ("ja", "2024-03-15に9:05に出発。", "二千二十四年三月十五日に九時五分に出発。"),
    ("zh", "2024-03-15起，价格是¥500。", "2024年3月15日起，价格是500元。"),
    ("ko", "2024-03-15 기준.", "이천이십사년 삼월 십오일 기준."),
    ("es", "La COVID-19 llegó.", "La COVID diecinueve llegó."),
    # units
    ("es", "Pesaba 3,5 kg y corría a 120 km/h.", "Pesaba tres coma cinco kilos y corría a ciento veinte "
                                                 "kilómetros por hora."),
    ("de", "Er lief 10km in 45 min.", "Er lief zehn Kilometer in fünfundvierzig Minuten."),
    ("zh", "重3.5kg，时速120km/h。", "重3.5公斤，时速120公里每小时。"),
    ("ja", "時速120km/hで走った。", "時速百二十キロ毎時で走った。"),
])
def test_numbers_currency_ordinals_and_abbreviations_are_read_in_the_language(
        lang: str, text: str, said: str) -> None:
    assert normalize_text(text, lang) == said


@pytest.mark.parametrize("lang, text", [("zh", "他等了120年。"), ("hi", "उसने 120 साल इंतज़ार किया।")])
def test_digits_stay_for_the_voice_where_num2words_cannot_say_them(lang: str, text: str) -> None:
    """num2words has no Chinese or Hindi: the voice's own front end reads the digits."""
    assert "120" in normalize_text(text, lang)


@pytest.mark.parametrize("lang, text, sentences", [
    ("es", "¿Quién lo sabía? ¡Nadie! El Sr. García llegó. Luego se fue.",
     ["Quién lo sabía?", "Nadie!", "El señor García llegó.", "Luego se fue."]),
    ("de", "Das ist z. B. am 3. Mai passiert. Dr. Müller kam.",
     None),
    ("ru", "Он хранил тайну, т.е. секрет. Почему? Никто не знал.",
     ["Он хранил тайну, то есть секрет.", "Почему?", "Никто не знал."]),
    ("ar", "احتفظت المنارة بسرها. لماذا؟ لا أحد يعرف.",
     ["احتفظت المنارة بسرها.", "لماذا؟", "لا أحد يعرف."]),
    ("hi", "उसने रहस्य छिपाए रखा। क्यों? कोई नहीं जानता।",
     ["उसने रहस्य छिपाए रखा।", "क्यों?", "कोई नहीं जानता।"]),
    ("pt", "O farol ficou. Porquê? Ninguém sabia.", ["O farol ficou.", "Porquê?", "Ninguém sabia."]),
    ("ko", "등대는 서 있었다. 왜일까? 아무도 몰랐다.", ["등대는 서 있었다.", "왜일까?", "아무도 몰랐다."]),
    ("zh", "那座灯塔守护了秘密。为什么？没有人知道！他说：“走吧。”然后离开了",
     ["那座灯塔守护了秘密。", "为什么？", "没有人知道！", "他说，走吧。然后离开了。"]),
    ("ja", "灯台は秘密を守り続けた。なぜだろう？誰も知らない！",
     ["灯台は秘密を守り続けた。", "なぜだろう？", "誰も知らない！"]),
])
def test_sentences_split_per_language(lang: str, text: str, sentences: list[str] | None) -> None:
    got = [s.text for s in prepare_text(text, language=lang)]
    if sentences is None:  # "z. B." and "3." do not end a sentence
        assert len(got) == 2 and got[1] == "Doktor Müller kam."
    else:
        assert got == sentences


def test_chinese_and_japanese_tokens_are_phrases_that_join_without_spaces() -> None:
    [sentence] = prepare_text("古い灯台は百二十年もの間、その秘密を守り続けた。", language="ja")
    displays = [t.display for t in sentence.tokens]
    assert len(displays) > 4 and all(" " not in d for d in displays)
    assert "".join(displays) == "古い灯台は百二十年もの間、その秘密を守り続けた。"
    assert sentence.text == "古い灯台は百二十年もの間、その秘密を守り続けた。"
    [zh] = prepare_text("那座古老的灯塔守护了它的秘密。", language="zh")
    assert len(zh.tokens) > 3 and zh.joiner == ""


def test_inverted_marks_stay_on_the_caption_and_leave_the_voice() -> None:
    [q, e] = prepare_text("¿Quién? ¡Nadie!", language="es")
    assert q.tokens[0].display == "¿Quién?" and q.text == "Quién?"
    assert e.tokens[0].display == "¡Nadie!" and e.text == "Nadie!"


def test_a_long_japanese_sentence_is_chunked_at_its_commas() -> None:
    text = "、".join(["古い灯台はその秘密を長い間守り続けた"] * 8) + "。"
    chunks = prepare_text(text, language="ja", max_chars=60)
    assert len(chunks) > 1 and all(c.continues for c in chunks[:-1])
    assert all(len(c.text) <= 60 or len(c.tokens) == 1 for c in chunks)
    assert chunks[0].text.endswith(("、", "，"))


def test_paragraph_breaks_are_kept() -> None:
    out = prepare_text("Primera frase.\n\nSegunda frase.", language="es")
    assert [s.paragraph_end for s in out] == [True, False]


def test_english_keeps_its_reader() -> None:
    assert normalize_text("Dr. Lee paid $5 in the 1990s.") == (
        "Doctor Lee paid five dollars in the nineteen nineties.")
    assert normalize_text("In 1905 and 2008, 1,234 people.") == (
        "In nineteen oh five and two thousand eight, one thousand two hundred thirty-four people.")


def test_language_codes() -> None:
    assert set(CODES) >= {"en", "es", "fr", "de", "it", "pt", "nl", "pl", "tr", "ru", "cs", "ar", "zh", "ja",
                          "ko", "hi"}
    assert normalize_code("es-MX") == "es" and normalize_code("zh_Hans") == "zh"
    assert normalize_code("Deutsch") == "de"
    assert normalize_code(None) == "en" and normalize_code("xx") is None
    with pytest.raises(BadInput) as err:
        language("klingon")
    assert "es" in err.value.message and "ja" in err.value.message
    assert LANGUAGES["ar"].rtl and not LANGUAGES["zh"].spaced and LANGUAGES["ko"].spaced


def test_job_spec_carries_the_language() -> None:
    spec = JobSpec("El faro", language="es-ES")
    assert spec.language == "es"
    assert JobSpec.from_dict(spec.to_dict()).language == "es"
    old = spec.to_dict()
    del old["language"]
    assert JobSpec.from_dict(old).language == "en"  # a spec stored before languages existed
    with pytest.raises(BadInput):
        JobSpec("x", language="xx")
