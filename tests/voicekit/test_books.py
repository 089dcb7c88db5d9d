"""Uploaded books become chapters of plain prose: EPUB, Markdown and plain text, and every refusal."""
import io
import zipfile

import pytest

from tests.bookfixtures import make_epub
from voicekit import books
from voicekit.books import Chapter, guess_kind, read_book
from voicekit.errors import BadInput, BookError

THREE_CHAPTERS = [
    ("The Arrival", "It was a dark night.\n\nThe train was late & cold."),
    ("The Storm", "Wind came off the sea."),
    ("Home", "They went home at last."),
]
CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
    "</container>"
)


def zip_bytes(files: dict[str, str | bytes], mimetype: bytes | None = b"application/epub+zip") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype is not None:
            archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def epub2(documents: dict[str, str], spine: list[str], ncx_points: list[tuple[str, str]], nonlinear=()) -> bytes:
    """A hand-written EPUB 2 (NCX table of contents, no nav document) with its files under OEBPS/text/."""
    manifest = "".join(
        f'<item id="{name}" href="text/{name}.xhtml" media-type="application/xhtml+xml"/>' for name in documents
    )
    itemrefs = "".join(
        f'<itemref idref="{name}" linear="{"no" if name in nonlinear else "yes"}"/>' for name in spine
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>  Hand   Made </dc:title>'
        '<dc:identifier id="id">urn:x</dc:identifier><dc:language>en</dc:language></metadata>'
        f'<manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>{manifest}</manifest>'
        f'<spine toc="ncx">{itemrefs}</spine></package>'
    )
    points = "".join(
        f'<navPoint id="p{i}"><navLabel><text>{label}</text></navLabel><content src="{src}"/></navPoint>'
        for i, (label, src) in enumerate(ncx_points)
    )
    ncx = f'<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>{points}</navMap></ncx>'
    files = {"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx}
    files.update({f"OEBPS/text/{name}.xhtml": body for name, body in documents.items()})
    return zip_bytes(files)


def xhtml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title>'
        f"<style>p {{ color: red }}</style></head><body>{body}</body></html>"
    )


# EPUB


def test_an_epub_reads_as_its_chapters_in_spine_order_with_toc_titles():
    title, chapters = read_book(make_epub(THREE_CHAPTERS), kind="epub")

    assert title == "A Test Book"
    assert chapters == [
        Chapter("The Arrival", "It was a dark night.\n\nThe train was late & cold."),
        Chapter("The Storm", "Wind came off the sea."),
        Chapter("Home", "They went home at last."),
    ]
    assert [chapter.words for chapter in chapters] == [11, 5, 5]


def test_an_epub_title_comes_from_the_toc_then_the_first_heading_then_its_place():
    documents = {
        "cover": xhtml('<div><img src="cover.jpg" alt="Cover"/></div>'),
        "one": xhtml("<h1>Chapter One</h1><p>First\u00ad paragraph,<br/>broken line.</p><p>* * *</p>"
                     "<div><blockquote>A quote.</blockquote>After it.</div><ul><li>Item one</li><li>Item two</li></ul>"),
        "two": xhtml("<section><h2>The Middle</h2><p>Middle text.</p><script>alert('no')</script></section>"),
        "three": xhtml("<p>No heading at all.</p>"),
        "notes": xhtml("<p>A footnote read out of order.</p>"),
    }
    data = epub2(
        documents,
        spine=["cover", "one", "notes", "two", "three"],
        ncx_points=[("Cover", "text/cover.xhtml"), ("1. Arrival", "text/one.xhtml#start"),
                    ("1.1 Detail", "text/one.xhtml#detail")],
        nonlinear={"notes"},
    )

    title, chapters = read_book(data, filename="hand-made.epub")

    assert title == "Hand Made"
    assert chapters == [
        Chapter("1. Arrival", "Chapter One\n\nFirst paragraph, broken line.\n\nA quote.\n\nAfter it.\n\n"
                              "Item one\n\nItem two"),
        Chapter("The Middle", "Middle text."),
        Chapter("Chapter 3", "No heading at all."),
    ]


def test_an_epub_with_only_a_cover_and_a_heading_page_has_no_chapters():
    with pytest.raises(BookError, match="^EPUB has no chapters with speakable text$"):
        read_book(make_epub([("Part One", "")]), kind="epub")


def test_a_file_that_is_not_a_zip_is_not_an_epub():
    with pytest.raises(BookError, match="^not an EPUB: the file is not a readable zip archive$"):
        read_book(b"just some words", kind="epub")


def test_a_zip_with_another_mimetype_is_not_an_epub():
    data = zip_bytes({"META-INF/container.xml": CONTAINER}, mimetype=b"application/vnd.oasis.opendocument.text")

    with pytest.raises(BookError, match="^not an EPUB: its mimetype is 'application/vnd.oasis.opendocument.text'$"):
        read_book(data, filename="book.epub")


def test_a_plain_zip_is_not_an_epub():
    data = zip_bytes({"notes.txt": "hello"}, mimetype=None)

    assert guess_kind(data) == "epub"
    with pytest.raises(BookError, match="^not an EPUB: the zip has no META-INF/container.xml$"):
        read_book(data)


def test_an_epub_whose_package_file_is_missing_is_malformed():
    data = zip_bytes({"META-INF/container.xml": CONTAINER})

    with pytest.raises(BookError, match="^EPUB is malformed: EpubException: .*Can not find container file"):
        read_book(data, kind="epub")


def test_an_epub_that_unpacks_past_the_limit_is_refused_before_it_is_read():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER)
        with archive.open("OEBPS/bomb.xhtml", "w") as entry:
            for _ in range(books.MAX_EPUB_UNPACKED_BYTES // 1_000_000 + 1):
                entry.write(bytes(1_000_000))
    data = out.getvalue()
    assert len(data) < 1_000_000

    with pytest.raises(BookError, match=r"^EPUB unpacks to \d+ bytes, over MAX_EPUB_UNPACKED_BYTES \(100000000\)$"):
        read_book(data, kind="epub")


# Markdown

MARKDOWN = """\
# The Book of Tests

A foreword before any chapter.

## First Steps

Some *emphasis*, **strong** words and a [link to a site](https://example.com "title").
Call `run()` now. ![a diagram](diagram.png) <span>Inline</span> HTML &amp; entities.

```python
print("never read")
```

<div class="aside">An HTML block is never read.</div>

- apples
- pears!
  1. nested one
- plums

### A Subsection

| Name | Age |
|------|-----|
| Ann  | 30  |

## Second Steps

---

The end.
"""


def test_markdown_reads_the_title_and_splits_at_the_repeated_heading_level():
    title, chapters = read_book(MARKDOWN.encode(), kind="markdown")

    assert title == "The Book of Tests"
    assert [chapter.title for chapter in chapters] == ["Opening", "First Steps", "Second Steps"]
    assert chapters[0].text == "A foreword before any chapter."
    assert chapters[1].text == (
        "Some emphasis, strong words and a link to a site. Call run() now. Inline HTML & entities.\n\n"
        "apples. pears! nested one. plums.\n\n"
        "A Subsection.\n\n"
        "Name, Age. Ann, 30."
    )
    assert chapters[2].text == "The end."


def test_markdown_with_repeated_top_headings_has_no_title():
    text = "---\ntitle: Front matter is not read\n---\n# One\n\nFirst.\n\n# Two\n\nSecond.\n"

    title, chapters = read_book(text.encode(), filename="book.md")

    assert title is None
    assert chapters == [Chapter("One", "First."), Chapter("Two", "Second.")]


def test_markdown_without_chapter_headings_is_one_chapter():
    title, chapters = read_book(b"# Only Title\n\nJust a short story.\n\nWith two paragraphs.\n", kind="markdown")

    assert title == "Only Title"
    assert chapters == [Chapter("Chapter 1", "Just a short story.\n\nWith two paragraphs.")]


# Plain text

TEXT = """\
A Tale of Tests
by Somebody

Chapter 1

It was the best of times.
It was the worst of times.

CHAPTER TWO

Chapter IV: The Storm
Rain fell on chapter 3 of the story.

Part 2

Prologue
"""


def test_plain_text_splits_at_heading_lines_that_start_a_paragraph():
    title, chapters = read_book(TEXT.replace("\n", "\r\n").encode("utf-8-sig"), kind="text")

    assert title is None
    assert chapters == [
        Chapter("Opening", "A Tale of Tests by Somebody"),
        Chapter("Chapter 1", "It was the best of times. It was the worst of times."),
        Chapter("Chapter IV: The Storm", "Rain fell on chapter 3 of the story."),
    ]


def test_a_heading_inside_a_paragraph_is_text():
    text = "The note said\nChapter 5\nand nothing more.\n\n* * *\n\nThe end.\n"

    assert read_book(text.encode(), kind="text") == (
        None, [Chapter("Chapter 1", "The note said Chapter 5 and nothing more.\n\nThe end.")]
    )


def test_plain_text_without_headings_is_one_chapter():
    _, chapters = read_book("Once upon a time.\n\n\n  There was a   café.  \n".encode(), filename="story.txt")

    assert chapters == [Chapter("Chapter 1", "Once upon a time.\n\nThere was a café.")]


# Guessing the kind


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("book.TXT", "text"), ("dir/book.md", "markdown"), ("book.markdown", "markdown"), ("C:\\books\\b.epub", "epub")],
)
def test_the_kind_is_guessed_from_the_extension_first(filename, expected):
    assert guess_kind(b"# Looks like Markdown", filename) == expected


def test_the_kind_is_guessed_from_the_bytes_without_a_known_extension():
    assert guess_kind(make_epub(THREE_CHAPTERS), "upload.bin") == "epub"
    assert guess_kind(b"Intro\n\n## A heading\n\nText.") == "markdown"
    assert guess_kind(b"Chapter 1\n\nText.") == "text"
    assert guess_kind(b"\xff\xfe not utf-8") == "text"


def test_a_guessed_kind_reads_the_book():
    assert read_book(make_epub(THREE_CHAPTERS))[0] == "A Test Book"
    assert read_book(b"# T\n\n## A\n\nx\n\n## B\n\ny")[1] == [Chapter("A", "x"), Chapter("B", "y")]
    assert read_book(b"# Not a heading in a .txt", filename="a.txt")[1] == [
        Chapter("Chapter 1", "# Not a heading in a .txt")
    ]


# Refusals


def test_text_that_is_not_utf8_is_refused():
    with pytest.raises(BookError, match=r"^book is not UTF-8 text \(byte 0xe9 at offset 3\); save it as UTF-8"):
        read_book("Caf\u00e9 au lait".encode("latin-1"), kind="text")


def test_binary_data_is_refused():
    with pytest.raises(BookError, match=r"^book is binary data, not text \(it contains NUL bytes\)$"):
        read_book(b"text\x00\x01\x02", filename="book.txt")


@pytest.mark.parametrize("data", [b"", b"  \n\n\t "])
def test_an_empty_book_is_refused(data):
    with pytest.raises(BookError, match="^book is empty$"):
        read_book(data, kind="text")


@pytest.mark.parametrize(("data", "kind"), [(b"* * *\n\n---", "text"), (b"```\ncode only\n```\n![img](x.png)", "markdown")])
def test_a_book_without_speakable_text_is_refused(data, kind):
    with pytest.raises(BookError, match="^book has no speakable text$"):
        read_book(data, kind=kind)


def test_a_book_over_the_word_limit_is_refused(monkeypatch):
    monkeypatch.setattr(books, "MAX_BOOK_WORDS", 10)

    assert read_book(b"one two three four five six seven eight nine ten", kind="text")[1][0].words == 10
    with pytest.raises(BookError, match=r"^book has 11 words, over MAX_BOOK_WORDS \(10\)$"):
        read_book(b"one two three four five six seven eight nine ten eleven", kind="text")
    with pytest.raises(BookError, match=r"^book has 16 words, over MAX_BOOK_WORDS \(10\)$"):
        read_book(make_epub(THREE_CHAPTERS[:2]), kind="epub")
    with pytest.raises(BookError, match=r"^book has about 21 words, over MAX_BOOK_WORDS \(10\)$"):
        read_book(b"word " * 21, kind="markdown")


def test_a_book_over_the_chapter_limit_is_refused(monkeypatch):
    monkeypatch.setattr(books, "MAX_CHAPTERS", 2)

    with pytest.raises(BookError, match=r"^book has 3 chapters, over MAX_CHAPTERS \(2\)$"):
        read_book(make_epub(THREE_CHAPTERS))


def test_an_upload_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(books, "MAX_BOOK_BYTES", 10)

    with pytest.raises(BookError, match=r"^book is 11 bytes, over MAX_BOOK_BYTES \(10\)$"):
        read_book(b"eleven byte", kind="text")


def test_an_unknown_kind_is_refused():
    with pytest.raises(BookError, match="^unknown book kind 'pdf'; expected one of text, markdown, epub$"):
        read_book(b"%PDF-1.7", kind="pdf")


def test_book_errors_are_bad_input():
    assert issubclass(BookError, BadInput)
