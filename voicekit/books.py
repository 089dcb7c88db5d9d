"""Turn an uploaded book (plain text, Markdown or EPUB) into chapters of plain prose for narration.

`read_book` returns the book's title (or None) and its chapters in reading order. Each chapter's
text is what the narrator speaks: no markup, paragraphs separated by one blank line (the form
`voicekit.text.chunking.sentences` splits), whitespace collapsed, and paragraphs with no letter or
digit (scene breaks such as "* * *") dropped. A chapter left with no text is dropped; the others
keep their order. Chapter headings are titles, not text: the narration layer decides whether to
announce them.

Uploads are untrusted. Every input is bounded by the limits below, checked before the expensive
work: the upload's size, an EPUB's unpacked size (read from the zip's directory before ebooklib
opens it, so a zip bomb is refused unread), and the words and chapters found.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from voicekit.errors import BookError

MAX_BOOK_BYTES = 50_000_000
MAX_EPUB_UNPACKED_BYTES = 100_000_000
MAX_BOOK_WORDS = 300_000
MAX_CHAPTERS = 500
# A chapter longer than this is narrated in parts ("Title (part 2)"), split between paragraphs (or
# sentences): 3,000 words is about 20 min at 150 words a minute, so a part stays under the
# studio's rendered limit (voicekit.studio.MAX_RENDERED_S, 30 min) at any style's pace.
MAX_PART_WORDS = 3_000
KINDS = ("text", "markdown", "epub")

_EXTENSIONS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".epub": "epub"}
_EPUB_MIMETYPE = b"application/epub+zip"
# What zipfile raises for a corrupt archive (bad CRC or header, truncated stream, unknown method or version).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, ValueError)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))

_NUMBER_WORD = (r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[-\s](?:one|two|three|four|five"
                r"|six|seven|eight|nine))?|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen"
                r"|one|two|three|four|five|six|seven|eight|nine)")
_TEXT_HEADING = re.compile(
    rf"(?:(?:chapter|part|book)\s+(?:\d+|[ivxlcdm]+|{_NUMBER_WORD})"
    r"|prologue|epilogue|preface|foreword|introduction|interlude|afterword)"
    r"(?:\s*[:.\u2013\u2014-]\s*\S.*|\s*[.:])?",
    re.IGNORECASE,
)
_MAX_HEADING_CHARS = 80
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE)

# lxml.html tags whose text is never spoken, and tags that end a paragraph.
_UNSPOKEN_TAGS = ("head", "script", "style", "nav", "template", "noscript", "svg", "math")
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li dt dd blockquote pre section article header footer aside figure "
    "figcaption table tr caption ul ol dl hr body address main".split()
)
_BREAK = "\x00"  # marks a block boundary while an HTML document's text is gathered; lxml text has no NUL


@dataclass(frozen=True)
class Chapter:
    """One chapter to narrate: its title and its text (paragraphs separated by a blank line)."""

    title: str
    text: str

    @property
    def words(self) -> int:
        """Whitespace-separated words in the text (the unit of MAX_BOOK_WORDS)."""
        return len(self.text.split())


def read_book(data: bytes, kind: str | None = None, filename: str | None = None) -> tuple[str | None, list[Chapter]]:
    """The book's title (None when it names none) and its chapters, in reading order.

    kind is "text", "markdown" or "epub"; when None it is guessed from the filename's extension
    (.txt, .md/.markdown, .epub), then from the bytes (a zip is read as an EPUB, UTF-8 text with
    `#` heading lines as Markdown, other text as plain text). Raises BookError, saying what is
    wrong, for anything that cannot be read or exceeds a limit.
    """
    if len(data) > MAX_BOOK_BYTES:
        raise BookError(f"book is {len(data)} bytes, over MAX_BOOK_BYTES ({MAX_BOOK_BYTES})")
    if not data.strip():
        raise BookError("book is empty")
    if kind is None:
        kind = guess_kind(data, filename)
    if kind == "epub":
        title, chapters = _read_epub(data)
    elif kind in ("text", "markdown"):
        text = _decode(data)
        approx_words = len(text.split())
        if approx_words > 2 * MAX_BOOK_WORDS:  # refuse before parsing; the exact count is checked after
            raise BookError(f"book has about {approx_words} words, over MAX_BOOK_WORDS ({MAX_BOOK_WORDS})")
        title, chapters = (None, _text_chapters(text)) if kind == "text" else _markdown_chapters(text)
    else:
        raise BookError(f"unknown book kind {kind!r}; expected one of {', '.join(KINDS)}")
    return title, _checked(chapters)


def guess_kind(data: bytes, filename: str | None = None) -> str:
    """"text", "markdown" or "epub" for an upload, from its filename's extension, else from its bytes."""
    if filename:
        extension = posixpath.splitext(filename.replace("\\", "/"))[1].lower()
        if extension in _EXTENSIONS:
            return _EXTENSIONS[extension]
    if data.startswith(b"PK\x03\x04"):
        return "epub"  # any zip: the EPUB checks then say what is wrong with a zip that is not one
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "text"  # reading it as text raises the specific encoding error
    return "markdown" if _ATX_HEADING.search(text) else "text"


def _checked(chapters: list[Chapter]) -> list[Chapter]:
    """The chapters that have text, once the book is known to be non-empty and within the limits."""
    chapters = [chapter for chapter in chapters if chapter.text]
    if not chapters:
        raise BookError("book has no speakable text")
    if len(chapters) > MAX_CHAPTERS:
        raise BookError(f"book has {len(chapters)} chapters, over MAX_CHAPTERS ({MAX_CHAPTERS})")
    words = sum(chapter.words for chapter in chapters)
    if words > MAX_BOOK_WORDS:
        raise BookError(f"book has {words} words, over MAX_BOOK_WORDS ({MAX_BOOK_WORDS})")
    return [part for chapter in chapters for part in _parts(chapter)]


def _parts(chapter: Chapter) -> list[Chapter]:
    """The chapter, or its parts of at most MAX_PART_WORDS words, cut between paragraphs where
    they allow and otherwise after a sentence's last word."""
    if chapter.words <= MAX_PART_WORDS:
        return [chapter]
    pieces: list[list[str]] = [[]]
    for paragraph in chapter.text.split("\n\n"):
        for run in _word_runs(paragraph.split()):
            if pieces[-1] and sum(len(p.split()) for p in pieces[-1]) + len(run) > MAX_PART_WORDS:
                pieces.append([])
            pieces[-1].append(" ".join(run))
    return [Chapter(f"{chapter.title} (part {i + 1})", "\n\n".join(piece)) for i, piece in enumerate(pieces)]


def _word_runs(words: list[str]) -> Iterator[list[str]]:
    """A paragraph's words in runs of at most MAX_PART_WORDS, each ending at a sentence's end
    where one falls in the run's second half."""
    while len(words) > MAX_PART_WORDS:
        ends = [i for i in range(MAX_PART_WORDS // 2, MAX_PART_WORDS) if words[i - 1][-1:] in ".!?"]
        cut = ends[-1] if ends else MAX_PART_WORDS
        yield words[:cut]
        words = words[cut:]
    if words:
        yield words


def _clean(text: str) -> str:
    """One line of speakable text: invisible characters removed, whitespace collapsed."""
    return " ".join(text.translate(_INVISIBLE).split())


def _speakable(paragraphs: Iterable[str]) -> list[str]:
    """Cleaned paragraphs, without those that have no letter or digit (blank, or a scene break)."""
    cleaned = (_clean(paragraph) for paragraph in paragraphs)
    return [paragraph for paragraph in cleaned if any(ch.isalnum() for ch in paragraph)]


def _join_paragraphs(paragraphs: Iterable[str]) -> str:
    """Chapter text from raw paragraphs."""
    return "\n\n".join(_speakable(paragraphs))


def _sentence(text: str) -> str:
    """text ending in sentence punctuation, so a list item or table row is read with a pause."""
    text = _clean(text)
    if text and text.rstrip("\"')]\u201d\u2019")[-1:] not in (".", "!", "?", "\u2026", ":", ";"):
        text += "."
    return text


# Plain text


def _decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped) with newlines normalised; other encodings and binary are refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BookError(
            f"book is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save it as UTF-8 or upload an EPUB"
        ) from None
    if "\x00" in text:
        raise BookError("book is binary data, not text (it contains NUL bytes)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _text_chapters(text: str) -> list[Chapter]:
    """Chapters of plain text, split at heading lines ("Chapter 4", "CHAPTER TWO", "Part IV: The Storm",
    "Prologue"...) that start a paragraph. Text before the first heading is the chapter "Opening";
    a text with no heading is one chapter, "Chapter 1"."""
    sections: list[tuple[str, list[str]]] = [("Opening", [])]
    after_blank = True
    for line in text.split("\n"):
        stripped = _clean(line)
        if after_blank and len(stripped) <= _MAX_HEADING_CHARS and _TEXT_HEADING.fullmatch(stripped):
            sections.append((stripped, []))
        else:
            sections[-1][1].append(line)
            after_blank = not stripped
    if len(sections) == 1:
        sections = [("Chapter 1", sections[0][1])]
    return [Chapter(title, _join_paragraphs(re.split(r"\n\s*\n", "\n".join(lines)))) for title, lines in sections]


# Markdown


def _markdown_chapters(text: str) -> tuple[str | None, list[Chapter]]:
    """Title and chapters of Markdown. A level-1 heading that opens the document and is the only one
    is the book's title; chapters split at the shallowest heading level used more than once (or
    the only level used), and at any shallower heading; deeper headings are read as sentences."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(_FRONT_MATTER.sub("", text))
    blocks = list(_markdown_blocks(tokens))
    levels = [level for level, _ in blocks if level]
    title = None
    if blocks and blocks[0][0] == 1 and levels.count(1) == 1:
        title, blocks, levels = blocks[0][1], blocks[1:], levels[1:]
    repeated = [level for level in levels if levels.count(level) > 1]
    split_level = min(repeated or levels, default=0)
    sections: list[tuple[str, list[str]]] = [("Opening" if split_level else "Chapter 1", [])]
    for level, block in blocks:
        if level and level <= split_level:
            sections.append((block, []))
        else:
            sections[-1][1].append(_sentence(block) if level else block)
    return title, [Chapter(heading, _join_paragraphs(paragraphs)) for heading, paragraphs in sections]


def _markdown_blocks(tokens: list) -> Iterator[tuple[int, str]]:
    """(heading level, text) for each heading and (0, text) for each paragraph of a markdown-it token
    stream. A whole list or table is one paragraph whose items and rows are sentences; code blocks,
    HTML blocks and images are never read (only inline tokens carry text, and images are skipped)."""
    groups: list[list[str]] = []  # text of the open list items / table rows, innermost last
    finished: list[str] = []  # sentences of the list or table being read
    containers = 0
    heading = 0
    for token in tokens:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open", "table_open"):
            containers += 1
        elif kind in ("bullet_list_close", "ordered_list_close", "table_close"):
            containers -= 1
            if containers == 0 and finished:
                yield 0, " ".join(finished)
                finished = []
        elif kind in ("list_item_open", "tr_open"):
            if groups and groups[-1]:  # an item's own text comes before its nested list
                finished.append(_sentence(" ".join(groups[-1])))
                groups[-1].clear()
            groups.append([])
        elif kind in ("list_item_close", "tr_close"):
            pieces = groups.pop()
            if pieces:
                finished.append(_sentence((", " if kind == "tr_close" else " ").join(pieces)))
        elif kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "heading_close":
            heading = 0
        elif kind == "inline":
            text = _clean(_inline_text(token.children or []))
            if not text:
                continue
            if groups:
                groups[-1].append(text)
            elif containers:
                finished.append(_sentence(text))
            else:
                yield heading, text


def _inline_text(children: list) -> str:
    """The words of an inline token: emphasis and links reduced to their text, code to its content;
    images and inline HTML tags dropped."""
    parts = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


# EPUB


def _read_epub(data: bytes) -> tuple[str | None, list[Chapter]]:
    """Title (Dublin Core) and chapters of an EPUB, one per spine document with speakable text.

    A document's title is the one the table of contents gives it, else its first h1/h2/h3, else
    "Chapter N" (N its place among the chapters); a first paragraph that repeats the title (the
    heading it came from) is not read. Non-linear spine items (linear="no": notes,
    answer keys, often the cover) and the navigation document are not read.
    """
    _check_epub_zip(data)
    from ebooklib import ITEM_DOCUMENT, epub
    from lxml import etree

    try:
        book = epub.read_epub(io.BytesIO(data))  # ebooklib 0.20 accepts a file object as well as a path
    # ebooklib reports a malformed OPF or navigation document by whatever its parsing hits first.
    except (*_ZIP_ERRORS, epub.EpubException, KeyError, IndexError, AttributeError, AssertionError, TypeError,
            etree.LxmlError) as error:
        raise BookError(f"EPUB is malformed: {type(error).__name__}: {error}") from None
    toc_titles = _toc_titles(book.toc)
    chapters = []
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or linear == "no" or isinstance(item, epub.EpubNav) or item.get_type() != ITEM_DOCUMENT:
            continue
        paragraphs, first_heading = _html_paragraphs(item.get_content())
        title = toc_titles.get(_href_key(item.get_name())) or first_heading or f"Chapter {len(chapters) + 1}"
        paragraphs = _speakable(paragraphs)
        if paragraphs and paragraphs[0].casefold() == title.casefold():
            paragraphs = paragraphs[1:]  # the heading the title came from is not read twice
        text = "\n\n".join(paragraphs)
        if text:  # a cover, or a part-title page with only its heading
            chapters.append(Chapter(title, text))
    if not chapters:
        raise BookError("EPUB has no chapters with speakable text")
    titles = (_clean(value or "") for value, _ in book.get_metadata("DC", "title"))
    return next((title for title in titles if title), None), chapters


def _check_epub_zip(data: bytes) -> None:
    """Refuse, from the zip's directory alone, what is not an EPUB or unpacks to more than
    MAX_EPUB_UNPACKED_BYTES (zipfile never inflates an entry past its declared size)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS:
        raise BookError("not an EPUB: the file is not a readable zip archive") from None
    with archive:
        entries = archive.infolist()
        unpacked = sum(entry.file_size for entry in entries)
        if unpacked > MAX_EPUB_UNPACKED_BYTES:
            raise BookError(
                f"EPUB unpacks to {unpacked} bytes, over MAX_EPUB_UNPACKED_BYTES ({MAX_EPUB_UNPACKED_BYTES})"
            )
        if any(entry.flag_bits & 0x1 for entry in entries):
            raise BookError("EPUB zip is password-protected")
        names = {entry.filename for entry in entries}
        if "mimetype" in names:
            try:
                with archive.open("mimetype") as entry:
                    mimetype = entry.read(len(_EPUB_MIMETYPE) + 64).strip()
            except _ZIP_ERRORS:
                raise BookError("EPUB is malformed: its mimetype entry cannot be read") from None
            if mimetype != _EPUB_MIMETYPE:
                raise BookError(f"not an EPUB: its mimetype is {mimetype[:60].decode('ascii', 'replace')!r}")
        if "META-INF/container.xml" not in names:
            raise BookError("not an EPUB: the zip has no META-INF/container.xml")


def _href_key(href: str) -> str:
    """A manifest or TOC href (fragment dropped, percent-decoded, normalised) as a lookup key."""
    return posixpath.normpath(unquote(href.split("#", 1)[0]))


def _toc_titles(toc: list | object) -> dict[str, str]:
    """Title of each document the table of contents names, by href key. The first entry naming a
    document wins: a chapter's own entry comes before those of its sections."""
    titles: dict[str, str] = {}
    stack = list(reversed(toc)) if isinstance(toc, list) else [toc]  # ebooklib gives an empty NCX as one Link
    while stack:
        entry = stack.pop()
        if isinstance(entry, tuple):  # (Section, children)
            entry, children = entry
            stack.extend(reversed(children))
        href, title = getattr(entry, "href", None), _clean(getattr(entry, "title", None) or "")
        if href and title:
            titles.setdefault(_href_key(href), title)
    return titles


def _html_paragraphs(content: bytes) -> tuple[list[str], str | None]:
    """The paragraphs of an (X)HTML document and its first h1/h2/h3 text (None if it has none).

    lxml's HTML parser never fetches anything (no_network) and expands no DTD entities; script,
    style, nav and other unspoken elements are removed; block elements end paragraphs.
    """
    from lxml import etree, html

    encoding = "utf-16" if content[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    parser = html.HTMLParser(encoding=encoding, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = html.document_fromstring(content, parser=parser)
    except (etree.ParserError, ValueError):  # an empty document
        return [], None
    for element in list(root.iter(*_UNSPOKEN_TAGS)):
        element.drop_tree()
    headings = (_clean(heading.text_content()) for heading in root.iter("h1", "h2", "h3"))
    first_heading = next((heading for heading in headings if heading), None)
    parts: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):  # iterative: no recursion limit
        if not isinstance(element.tag, str):
            continue
        if element.tag in _BLOCK_TAGS:
            parts.append(_BREAK)
        elif element.tag == "br":
            parts.append(" ")
        if event == "start" and element.text:
            parts.append(element.text)
        elif event == "end" and element.tail:
            parts.append(element.tail)
    return "".join(parts).split(_BREAK), first_heading
