"""SSML -> utterance plan: what each element asks for, and every refusal with its line and column."""
import pytest

from voicekit.text.say_as import expand
from voicekit.text.ssml import Mark, Pause, Prosody, Speech, SsmlError, parse


def speak(body: str) -> str:
    return f'<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">{body}</speak>'


def test_breaks_marks_and_voices_become_plan_items():
    plan = parse(speak('One.<break time="1.5s"/><mark name="here"/><voice name="joe">Two.</voice>'
                       '<break strength="strong"/><break time="250ms"/>'))
    assert plan == [Speech("One.", None, Prosody()), Pause(1.5), Mark("here"), Speech("Two.", "joe", Prosody()),
                    Pause(0.7), Pause(0.25)]


def test_prosody_nests_and_emphasis_is_slower_higher_louder():
    plan = parse(speak('<prosody rate="150%" pitch="+2st" volume="-6dB">a <prosody rate="x-slow" pitch="-10%">'
                       'b</prosody></prosody><emphasis level="strong">c</emphasis><prosody pitch="+20Hz">d</prosody>'))
    a, b, c, d = plan
    assert a.prosody == Prosody(1.5, 2.0, 0.0, -6.0)
    assert b.prosody.rate == pytest.approx(0.9) and b.prosody.pitch_st == pytest.approx(2.0 - 1.824, abs=1e-3)
    assert c.prosody.rate < 1 and c.prosody.pitch_st > 0 and c.prosody.volume_db > 0
    assert d.prosody.pitch_hz == 20.0


def test_sub_phoneme_and_say_as_replace_their_text_and_the_sentence_stays_whole():
    plan = parse(speak('The <sub alias="World Wide Web Consortium">W3C</sub> met on '
                       '<say-as interpret-as="date" format="dmy">14.3.2024</say-as>. '
                       '<phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme>'))
    assert plan[0] == Speech("The World Wide Web Consortium met on March fourteenth twenty twenty-four.", None,
                             Prosody())
    assert plan[1] == Speech("tomato", None, Prosody(), ipa="təˈmeɪtoʊ")


@pytest.mark.parametrize("kind, text, fmt, words", [
    ("cardinal", "1,250", None, "one thousand two hundred and fifty"),
    ("ordinal", "21st", None, "twenty-first"),
    ("digits", "2048", None, "two zero four eight"),
    ("characters", "IBM", None, "eye bee em"),
    ("characters", "x²", None, "ex"),
    ("digits", "2²", None, "two"),
    ("date", "2024-03-14", None, "March fourteenth twenty twenty-four"),
    ("date", "3/14", "md", "March fourteenth"),
    ("time", "7:30pm", None, "seven thirty p m"),
    ("time", "19:05", None, "nineteen oh five"),
    ("time", "9:00", None, "nine o'clock"),
    ("telephone", "+1 555-0100", None, "plus one, five five five, zero one zero zero"),
])
def test_say_as_reads_numbers_dates_and_times_as_words(kind, text, fmt, words):
    assert expand(text, kind, fmt) == words


@pytest.mark.parametrize("document, message", [
    (speak("<foo/>"), r"line 1, column \d+: unsupported element <foo>"),
    ("<speak>\n  <break time='forever'/></speak>", "line 2, column 3: break time 'forever'"),
    (speak('<prosody pitch="200Hz">x</prosody>'), "prosody pitch '200Hz' is not supported"),
    (speak('<prosody rate="5">x</prosody>'), "rate 5.00 is outside"),
    (speak('<prosody contour="(0%,+20Hz)">x</prosody>'), "does not support the attribute 'contour'"),
    (speak('<say-as interpret-as="date">32/13/2024</say-as>'), "no such month or day"),
    (speak('<say-as interpret-as="money">5</say-as>'), "interpret-as 'money' is not one of"),
    (speak('<say-as interpret-as="cardinal">' + "1" * 400 + '.5</say-as>'), "up to 30 digits"),
    (speak('<say-as interpret-as="cardinal">' + "9" * 5000 + '</say-as>'), "up to 30 digits"),
    (speak('<prosody volume="+1000dB">x</prosody>'), "use silent, x-soft..x-loud or -40dB..[+]40dB"),
    (speak('<phoneme alphabet="x-sampa" ph="t@">x</phoneme>'), "alphabet 'x-sampa' is not supported"),
    (speak('<sub alias="a"><break/></sub>'), "cannot appear inside <sub>"),
    ("<p>no speak root</p>", "root element must be <speak>"),
    ("<speak>unclosed", r"line 1, column \d+: no element found"),
    ("just text", "line 1, column 1: syntax error"),
])
def test_bad_markup_is_refused_with_line_and_column(document, message):
    with pytest.raises(SsmlError, match=message):
        parse(document)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<speak>&lol3;</speak>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE speak [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<speak>&secret;</speak>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, "<!DOCTYPE speak><speak>hi</speak>"])
def test_malicious_xml_is_refused_before_any_expansion(document):
    with pytest.raises(SsmlError, match="document type declarations are not allowed"):
        parse(document)
