"""Build small real EPUBs with ebooklib for tests (import as `from tests.bookfixtures import make_epub`)."""
from __future__ import annotations

import io
from html import escape


def make_epub(chapters: list[tuple[str, str]], title: str = "A Test Book", cover: bool = True) -> bytes:
    """The bytes of an EPUB 3 with one XHTML document per (title, text) chapter, in that order.

    Each chapter is written as an <h1> of its title and one <p> per blank-line-separated paragraph
    of its text, and is named by its title in the navigation document and the NCX. The spine reads
    a cover-like page with only an image first (when cover is True), then the navigation document,
    then the chapters, as real EPUBs do.
    """
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("urn:uuid:voicekit-test-book")
    book.set_title(title)
    book.set_language("en")
    book.add_author("Test Author")
    spine: list = []
    if cover:
        page = epub.EpubHtml(title="Cover", file_name="cover.xhtml", lang="en")
        page.content = '<html><body><div><img src="cover.png" alt=""/></div></body></html>'
        book.add_item(page)
        spine.append(page)
    spine.append("nav")
    documents = []
    for number, (chapter_title, text) in enumerate(chapters, start=1):
        document = epub.EpubHtml(title=chapter_title, file_name=f"chapter_{number:02d}.xhtml", lang="en")
        paragraphs = "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())
        document.content = f"<html><body><h1>{escape(chapter_title)}</h1>{paragraphs}</body></html>"
        book.add_item(document)
        documents.append(document)
    book.toc = documents
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = spine + documents
    out = io.BytesIO()
    epub.write_epub(out, book, {"raise_exceptions": True})
    return out.getvalue()
