"""Pronunciation lexicons: parsing (PLS and the table), refusals, and that entries change what the
engines are given to say."""
import pytest

from voicekit.text.lexicon import Lexicon, LexiconError

PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>Nguyen</grapheme><grapheme>Nguyễn</grapheme><phoneme>wɪn</phoneme></lexeme>
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""


def test_pls_phonemes_and_aliases():
    lexicon = Lexicon.from_pls(PLS)
    assert lexicon.entries["nguyen"].ipa == "wɪn" and lexicon.entries["nguyễn"].ipa == "wɪn"
    assert lexicon.entries["w3c"].alias == "World Wide Web Consortium"


def test_table_form_and_comments():
    lexicon = Lexicon.from_table("# names\nNguyen\twɪn\n\nSiobhan\t/ʃɪˈvɔːn/\n")
    assert lexicon.entries["siobhan"].ipa == "ʃɪˈvɔːn" and len(lexicon) == 2


@pytest.mark.parametrize("text, message", [
    ("Nguyen wɪn\n", "line 1: expected 'word<TAB>pronunciation'"),
    ("Nguyen\t\n", "line 1"),
])
def test_bad_table_lines_name_the_line(text, message):
    with pytest.raises(LexiconError, match=message):
        Lexicon.from_table(text)


@pytest.mark.parametrize("document, message", [
    ("<lexicon", "PLS line 1"),
    ('<lexicon xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="x-sampa"/>', "alphabet"),
    ('<lexicon xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa">'
     '<lexeme><grapheme>a</grapheme></lexeme></lexicon>', "no phoneme or alias"),
    ("<other/>", "not a PLS lexicon"),
    ('<!DOCTYPE lexicon [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     '<lexicon xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa"/>', "refused"),
    ('<!DOCTYPE lexicon [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     '<lexicon xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa">'
     '<lexeme><grapheme>a</grapheme><alias>&x;</alias></lexeme></lexicon>', "refused"),
])
def test_bad_or_malicious_pls_is_refused(document, message):
    with pytest.raises(LexiconError, match=message):
        Lexicon.from_pls(document)


def test_entries_change_the_phonemes_heart_speaks(studio):
    lexicon = Lexicon.from_pls(PLS)
    heart = studio.engine("heart")
    plain = " ".join(ps for ps, _ in heart._pieces("Mister Nguyen joined the W3C."))
    given = " ".join(ps for ps, _ in heart._pieces(lexicon.apply("Mister Nguyen joined the W3C.", "misaki")))
    assert "wˈɪn" not in plain and "wɪn" in given
    assert "wˈɛb" in given and "wˈɛb" not in plain  # the alias is spoken


def test_entries_change_the_phonemes_joe_speaks(studio):
    lexicon = Lexicon.from_table("Nguyen\twɪn\n")
    voice = studio.engine("joe")._voice
    plain = "".join("".join(s) for s in voice.phonemize("Mister Nguyen."))
    given = "".join("".join(s) for s in voice.phonemize(lexicon.apply("Mister Nguyen.", "espeak")))
    assert "wɪn" not in plain and "wɪn" in given


def test_engines_without_phonemes_keep_the_word_but_take_aliases():
    lexicon = Lexicon.from_pls(PLS)
    assert lexicon.apply("Nguyen at the W3C", None) == "Nguyen at the World Wide Web Consortium"


def test_matching_is_whole_word_and_case_insensitive():
    lexicon = Lexicon.from_table("read\tɹɛd\n")
    assert lexicon.apply("READ the bread, reader.", "espeak") == "[[ ɹɛd ]] the bread, reader."


def test_a_request_lexicon_changes_the_audio_and_is_in_provenance(studio):
    lexicon = Lexicon.from_table("Nguyen\twɪn\n")
    plain = studio.speak("Mister Nguyen is here.", word_timings=True)
    given = studio.speak("Mister Nguyen is here.", lexicon=lexicon, word_timings=True)
    assert [w.word for w in given.words] == ["Mister", "Nguyen", "is", "here"]
    assert len(given.audio) != len(plain.audio)
    assert given.provenance["body"]["lexicon_sha256"] == {"heart": lexicon.sha256}
    assert plain.provenance["body"]["lexicon_sha256"] == {}


def test_stored_lexicons_apply_globally_or_per_voice(tmp_path):
    from voicekit import Studio

    studio = Studio(home=tmp_path)
    studio.set_lexicon(Lexicon.from_table("Nguyen\twɪn\n"), voice="joe")
    assert len(studio.lexicon_for("joe")) == 1 and len(studio.lexicon_for("heart")) == 0
    studio.set_lexicon(Lexicon.from_table("Siobhan\tʃɪvɔːn\n"))
    assert set(studio.lexicon_for("joe").entries) == {"nguyen", "siobhan"}
    assert set(studio.lexicon_for("heart").entries) == {"siobhan"}
    result = studio.speak("Siobhan is here.")
    assert result.provenance["body"]["lexicon_sha256"] == {"heart": studio.lexicon_for("heart").sha256}
    studio.set_lexicon(None)
    assert len(studio.lexicon_for("heart")) == 0
    assert studio.ledger.verify().ok
