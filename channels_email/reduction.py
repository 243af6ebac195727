"""What the visitor wrote: an email body reduced to its new text.

Quoted history, attribution lines ("On ... wrote:", Outlook's From/Sent block) and signatures are cut
by mail-parser-reply, which knows English out of the box; Hungarian is registered here in the same
form. HTML-only mails are turned into plain text first, by the standard library's HTMLParser: we only
need the words, line breaks and quote levels (blockquote becomes "> ", so the quoted history is
recognised and cut like in a plain-text mail), and the usual converter (html2text) is GPL-licensed and
writes Markdown, which would then show up as stray asterisks and brackets in the conversation.
"""

import re
from html.parser import HTMLParser

from mailparser_reply import constants as reply_constants
from mailparser_reply.parser import EmailMessage as ReplyMessage

_QUOTED = reply_constants.QUOTED_MATCH_INCLUDE

# Hungarian as the mail clients write it: Gmail "Név <cím> ezt írta (időpont: 2026. nov. 23., H, 14:05):",
# Apple Mail "2026. nov. 23. dátummal, 14:05 időpontban Név <cím> írta:", Thunderbird
# "2026. 11. 23. 14:05 keltezéssel, Név írta:", Outlook "Feladó: / Elküldve: / Címzett: / Tárgy:".
reply_constants.MAIL_LANGUAGES.setdefault(
    "hu",
    {
        "wrote_header": r"^("
        + _QUOTED
        + r"(?:.+?\s?.+?\s)?(?:ezt\s)?írta(?:\s\(időpont:\s?.+?\s?.+?\))?:)$"
        + r"|^(-{5,} ?Eredeti üzenet ?-{5,})$",
        "from_header": r"((?:(?:^|\n|\n"
        + _QUOTED
        + r")[* ]*(?:Feladó|Elküldve|Küldve|Címzett|Tárgy|Dátum|Másolat|Másolatot kap):[ *]*(?:\s{,2}).*){2,}"
        + r"(?:\n.*){,1})",
        "disclaimers": ["Figyelem:", "Jogi nyilatkozat:", "Bizalmas:"],
        "signatures": ["Üdvözlettel", "Üdv,", "Tisztelettel", "Köszönettel", "Baráti üdvözlettel"],
        "sent_from": r"Az (?:iPhone|iPad)-om|Az Outlook",
    },
)

LANGUAGES = ["en", "hu"]


def reduce_reply(text: str, *, flowed: bool = False) -> str:
    """The newest reply in a plain-text mail body, without quoted history, attribution or signature.

    Replies written above the quote (Gmail, Outlook, Apple Mail) keep what comes before the first
    attribution line; replies written below it (Thunderbird's default) keep the lines that are not quoted.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if flowed:
        text = unflow(text)
    if not text.strip():
        return ""
    # keep_hyphen_lists: a visitor's "- item" list is content, not the start of a signature.
    message = ReplyMessage(text=text, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    reply = message.replies[0]
    if not reply.headers:
        return _tidy(reply.body)
    # The mail starts with the attribution line: the new text is below or between the quotes.
    unquoted = "\n".join(line for line in reply.full_body.split("\n") if not line.lstrip().startswith(">"))
    if not unquoted.strip():
        return ""
    message = ReplyMessage(text=unquoted, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    return _tidy(message.replies[0].body if not message.replies[0].headers else "")


def unflow(text: str) -> str:
    """Undo format=flowed (RFC 3676): a line ending in a space continues on the next line of the same
    quote depth (Thunderbird writes paragraphs this way). The "-- " signature separator stays."""
    lines: list[str] = []
    joining = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffing
            content = content[1:]
        if joining and lines and _depth(lines[-1]) == depth:
            lines[-1] += content
        else:
            lines.append(">" * depth + (" " if depth else "") + content)
        joining = content.endswith(" ") and content != "-- "
    return "\n".join(lines)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(">"))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_BLOCK_TAGS = {
    "p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "address", "center",
}  # fmt: skip
_SKIPPED_TAGS = {"script", "style", "head", "title", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines: list[list[str]] = [[]]
        self.quote_depth: list[int] = [0]
        self.depth = 0
        self.skipping = 0
        self.preformatted = 0

    def _break(self) -> None:
        if self.lines[-1] or self.quote_depth[-1] != self.depth:
            self.lines.append([])
            self.quote_depth.append(self.depth)
        else:
            self.quote_depth[-1] = self.depth

    def _paragraph(self) -> None:
        self._break()
        if len(self.lines) > 1 and self.lines[-2]:
            self.lines.insert(-1, [])
            self.quote_depth.insert(-1, self.depth)

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag == "br":
            self.lines.append([])
            self.quote_depth.append(self.depth)
        elif tag == "blockquote":
            self._paragraph()
            self.depth += 1
            self.quote_depth[-1] = self.depth
        elif tag == "p":
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self.preformatted += 1
            self._break()

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self.depth = max(0, self.depth - 1)
            self._break()
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self.preformatted = max(0, self.preformatted - 1)
            self._break()

    def handle_data(self, data):
        if self.skipping:
            return
        if self.preformatted:
            first, *rest = data.split("\n")
            self.lines[-1].append(first)
            for line in rest:
                self.lines.append([line])
                self.quote_depth.append(self.depth)
            return
        text = re.sub(r"[ \t\r\n\f]+", " ", data.replace("\xa0", " "))
        if not self.lines[-1]:
            text = text.lstrip()
        if text:
            self.lines[-1].append(text)

    def text(self) -> str:
        rendered = []
        for parts, depth in zip(self.lines, self.quote_depth, strict=True):
            line = "".join(parts).strip()
            rendered.append("> " * depth + line if line else "")
        return _tidy("\n".join(rendered))


def html_to_text(html: str) -> str:
    """The words of an HTML mail body, with its line breaks and quote levels ("> ")."""
    extractor = _TextExtractor()
    extractor.feed(html or "")
    extractor.close()
    return extractor.text()
