from voicekit.text.chunking import sentences


def test_long_text_is_split_without_losing_a_word():
    text = ("Dr. Smith paid $3.50 for it. " * 40) + "\n\n" + "and then, " * 200 + "the end."
    chunks = sentences(text, max_chars=120)
    assert all(len(c) <= 120 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_abbreviations_do_not_end_sentences():
    assert sentences("Dr. Smith arrived. He sat down.") == ["Dr. Smith arrived.", "He sat down."]


def test_blank_text_gives_no_chunks():
    assert sentences("  \n\n  ") == []


def test_threads_splitting_at_once_each_get_their_own_sentences():
    from concurrent.futures import ThreadPoolExecutor

    texts = [" ".join(f"Sentence {n} of text {k} is here." for n in range(40)) for k in range(8)]
    expected = [sentences(t) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            assert list(pool.map(sentences, texts)) == expected
