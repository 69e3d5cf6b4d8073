"""Binary and markup documents (HTML, PDF, DOCX) → Markdown-like text for chunking.

Headings become ``#`` lines so :func:`~kefu.knowledge.chunking.split_document` keeps
sections apart; tables become one text row per table row (cells joined by `` | ``).
Each converter returns ``(content, metadata)``; what cannot be read raises
:class:`~kefu.core.errors.InvalidParam` naming the file.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

from kefu.core.errors import InvalidParam, TooLarge
from kefu.knowledge import limits

__all__ = ["clean_text", "decode_html", "docx_to_text", "html_to_text", "pdf_to_text"]

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'，。！？；）)]+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_INNER_SPACES = re.compile(r"(?<=\S)[ \t\u00a0\u3000]{2,}|(?<=\S)[\t\u00a0\u3000]")
_TRAILING_SPACES = re.compile(r"[ \t\u00a0\u3000]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def clean_text(text: str, *, remove_urls: bool = False, remove_emails: bool = False) -> str:
    """Normalise whitespace: one space between words, at most one blank line in a row.

    Leading indentation is kept (Markdown lists and code depend on it). URLs and e-mail
    addresses are removed only when asked (a policy page may need to show them).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    if remove_emails:
        text = _EMAIL.sub("", text)
    if remove_urls:
        text = _URL.sub("", text)
    text = _INNER_SPACES.sub(" ", text)
    text = _TRAILING_SPACES.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip("\n") + "\n" if text.strip() else ""


# --- HTML ---------------------------------------------------------------------------------

_DROPPED = frozenset(
    {"script", "style", "nav", "noscript", "template", "svg", "iframe", "head", "button"}
)
_BLOCKS = frozenset(
    """address article aside blockquote body center dd details dialog div dl dt fieldset
    figcaption figure footer form header hr html li main ol p pre section summary table
    tbody thead tfoot ul""".split()
)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


class _HtmlText(HTMLParser):
    """Collects visible text as Markdown-like lines; headings become ``#`` lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skipping: list[str] = []  # open dropped elements (nested ones included)
        self.heading = 0
        self.title: str | None = None
        self.in_title = False
        self.title_parts: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_pre = 0

    def flush(self, blank: bool = False) -> None:
        text = "".join(self.current)
        text = text if self.in_pre else re.sub(r"\s+", " ", text).strip()
        if text:
            self.lines.append(text)
        self.current = []
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if self.skipping or tag in _DROPPED:
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.flush(blank=True)
            self.heading = int(tag[1])
        elif tag == "br":
            self.flush()
        elif tag == "tr":
            self.flush()
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag in _BLOCKS:
            self.flush(blank=tag in ("p", "table", "ul", "ol", "blockquote", "pre", "section"))
            if tag == "li":
                self.current.append("- ")
            elif tag == "pre":
                self.in_pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.skipping:
            if tag in self.skipping:  # close the innermost match, tolerating bad nesting
                del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag) :]
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self.heading:
            text = re.sub(r"\s+", " ", "".join(self.current)).strip()
            self.current = []
            if text:
                self.lines += ["#" * self.heading + " " + text, ""]
                if self.title is None and self.heading == 1:
                    self.title = text
            self.heading = 0
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(re.sub(r"\s+", " ", "".join(self.cell)).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            cells = [cell for cell in self.row if cell]
            if cells:
                self.lines.append(" | ".join(cells))
            self.row = None
        elif tag in _BLOCKS:
            if tag == "pre":
                self.in_pre = max(0, self.in_pre - 1)
            self.flush(blank=tag in ("p", "table", "ul", "ol", "blockquote", "pre", "section"))

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.skipping:
            return
        if self.cell is not None:
            self.cell.append(data)
        else:
            self.current.append(data)

    def text(self) -> str:
        self.flush()
        return "\n".join(self.lines)


def decode_html(data: bytes, name: str) -> str:
    """Decode HTML bytes: a BOM, else the ``<meta charset>``, else UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    found = _CHARSET.search(data[:4096])
    encoding = found.group(1).decode("ascii").lower() if found else "utf-8"
    try:
        return data.decode(encoding)
    except LookupError:
        raise InvalidParam(f"{name}: unknown HTML charset {encoding!r}") from None
    except UnicodeDecodeError:
        raise InvalidParam(f"{name}: not valid {encoding} text") from None


def html_to_text(html: str) -> tuple[str, dict[str, Any]]:
    """Visible text of an HTML page; script, style and navigation are dropped."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    content = parser.text()
    title = re.sub(r"\s+", " ", "".join(parser.title_parts)).strip() or parser.title
    return content, {"title": title} if title else {}


# --- PDF ----------------------------------------------------------------------------------

_LINE_END = re.compile(r"[。！？；!?;:：…]$|[.](?=$)")
_CJK_EDGE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _unwrap(page: str) -> str:
    """Join lines a PDF wrapped mid-sentence; a line ending a sentence keeps its break."""
    out: list[str] = []
    for raw in page.splitlines():
        line = raw.strip()
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if out and out[-1] and not _LINE_END.search(out[-1]):
            previous = out[-1]
            joiner = "" if _CJK_EDGE.match(previous[-1]) and _CJK_EDGE.match(line[0]) else " "
            if previous.endswith("-") and line[:1].islower():  # a hyphenated word
                previous, joiner = previous[:-1], ""
            out[-1] = previous + joiner + line
        else:
            out.append(line)
    return "\n".join(out).strip()


def pdf_to_text(data: bytes, name: str) -> tuple[str, dict[str, Any]]:
    """Text of every page, pages separated by a blank line.

    Metadata: ``pages`` (how many) and ``page_starts`` (the character offset in the content
    where each page begins), so a passage can be traced back to its page.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidParam(f"{name}: the PDF is encrypted (remove its password first)")
        if len(reader.pages) > limits.MAX_PDF_PAGES:
            raise TooLarge(
                f"{name}: {len(reader.pages)} pages, more than the {limits.MAX_PDF_PAGES} allowed"
            )
        deadline, size = limits.Deadline(name), 0
        pages: list[str] = []
        for pdf_page in reader.pages:
            deadline.check()
            pages.append(_unwrap(pdf_page.extract_text() or ""))
            size += len(pages[-1])
            limits.check_text(size, name)
        info = reader.metadata
        title = str(info.title).strip() if info is not None and info.title else None
    except (InvalidParam, TooLarge):
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InvalidParam(f"{name}: not a readable PDF ({exc})") from None
    except Exception as exc:  # pypdf raises many kinds on damaged files
        if "crypt" in type(exc).__name__.lower() or "decrypt" in str(exc).lower():
            raise InvalidParam(
                f"{name}: the PDF is encrypted (remove its password first)"
            ) from None
        raise InvalidParam(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from None
    if not any(pages):
        raise InvalidParam(f"{name}: the PDF has no text layer (a scanned PDF needs OCR first)")
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 2
    metadata: dict[str, Any] = {"pages": len(pages), "page_starts": starts}
    if title:
        metadata["title"] = title
    return "\n\n".join(parts), metadata


# --- DOCX ---------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)", re.IGNORECASE)


def docx_to_text(data: bytes, name: str) -> tuple[str, dict[str, Any]]:
    """Paragraphs and tables in document order; "Heading N" / "Title" styles → headings."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    limits.check_zip(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise InvalidParam(f"{name}: not a readable DOCX file ({exc})") from None
    except Exception as exc:  # a damaged zip or XML inside it
        raise InvalidParam(f"{name}: not a readable DOCX file ({type(exc).__name__})") from None
    lines: list[str] = []
    first_heading: str | None = None
    deadline, size = limits.Deadline(name), 0
    for block in document.iter_inner_content():
        deadline.check()
        limits.check_text(size, name)
        if isinstance(block, Paragraph):
            text = " ".join(block.text.split())
            if not text:
                continue
            size += len(text)
            style = block.style.name if block.style is not None else ""
            level = 1 if style == "Title" else 0
            if match := _HEADING_STYLE.match(style or ""):
                level = min(6, max(1, int(match.group(1))))
            if level:
                lines += ["", "#" * level + " " + text, ""]
                first_heading = first_heading or text
            elif style and style.lower().startswith("list"):
                lines.append("- " + text)
            else:
                lines += [text, ""]
        elif isinstance(block, Table):
            lines.append("")
            for row in block.rows:
                cells: list[str] = []
                previous = None
                for cell in row.cells:
                    if cell._tc is not previous:  # a merged cell repeats; keep it once
                        cells.append(" ".join(cell.text.split()))
                    previous = cell._tc
                if any(cells):
                    lines.append(" | ".join(cell for cell in cells if cell))
            lines.append("")
    title = (document.core_properties.title or "").strip() or first_heading
    return "\n".join(lines), {"title": title} if title else {}
