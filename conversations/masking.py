"""Hiding payment card numbers in message text.

A card number is a run of 13 to 19 digits, bare or in groups joined by one consistent separator (a
single space or a dash), that starts with a known card prefix and passes the Luhn check. All its
digits but the last four become `*`, keeping the separators, so the agent still sees which card the
visitor means. Phone numbers, dates, order numbers that fail Luhn, IBANs and longer digit runs are
left alone.
"""

import re

# (lowest prefix, highest prefix, allowed lengths): prefixes compared on their own number of digits.
_CARD_RANGES: tuple[tuple[str, str, range], ...] = (
    ("4", "4", range(13, 20)),  # Visa (13, 16, 19; 14-18 exist on old cards too)
    ("51", "55", range(16, 17)),  # Mastercard
    ("2221", "2720", range(16, 17)),  # Mastercard 2-series
    ("2200", "2204", range(16, 20)),  # Mir
    ("34", "34", range(15, 16)),  # American Express
    ("37", "37", range(15, 16)),  # American Express
    ("300", "305", range(14, 20)),  # Diners Club
    ("36", "36", range(14, 20)),  # Diners Club International
    ("38", "39", range(14, 20)),  # Diners Club
    ("3528", "3589", range(16, 20)),  # JCB
    ("6011", "6011", range(16, 20)),  # Discover
    ("644", "649", range(16, 20)),  # Discover
    ("65", "65", range(16, 20)),  # Discover
    ("62", "62", range(16, 20)),  # UnionPay
    ("50", "50", range(13, 20)),  # Maestro
    ("56", "69", range(13, 20)),  # Maestro and other debit cards
)

# A run of digit groups joined by single spaces or dashes, not glued to letters or other digits.
_DIGIT_RUN = re.compile(r"(?<!\w)\d+(?:[ -]\d+)*(?!\w)")
_GROUP = re.compile(r"\d+")
# An IBAN's first group ("HU42", "DE89") just before a digit run: if the whole is a valid IBAN, the
# digits are an account number, not a card.
_IBAN_HEAD = re.compile(r"([A-Z]{2}\d{2})[ -]?$")


def _is_iban(head: str, digits: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters become 10..35, mod 97 is 1."""
    rearranged = digits + head[2:] + head[:2]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return 15 <= len(head) + len(digits) <= 34 and int(number) % 97 == 1


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """Whether a string of digits has a card's length, a card prefix and a valid checksum."""
    for low, high, lengths in _CARD_RANGES:
        if len(digits) in lengths and low <= digits[: len(low)] <= high:
            return _luhn_valid(digits)
    return False


def _mask(text: str) -> str:
    """All digits but the last four become `*`; separators stay where they were."""
    digits_seen = 0
    total_digits = sum(char.isdigit() for char in text)
    out = []
    for char in text:
        if char.isdigit():
            digits_seen += 1
            out.append(char if digits_seen > total_digits - 4 else "*")
        else:
            out.append(char)
    return "".join(out)


def _find_card_in_run(run: str) -> tuple[int, int] | None:
    """The span of the longest card number made of whole, consecutive groups of a run that uses one
    separator throughout. Groups are never split: "12 4111111111111111" is a card after a 12."""
    groups = list(_GROUP.finditer(run))
    best: tuple[int, int] | None = None
    for first in range(len(groups)):
        for last in range(first, len(groups)):
            digits = "".join(group.group() for group in groups[first : last + 1])
            if len(digits) > 19:
                break
            span = (groups[first].start(), groups[last].end())
            if len(digits) >= 13 and is_card_number(digits) and (best is None or span[1] - span[0] > best[1] - best[0]):
                best = span
    return best


def _split_mixed_run(run: str) -> list[tuple[int, str]]:
    """Split a run where the separator changes ("06-30 123 4567") into stretches with one each."""
    pieces: list[tuple[int, str]] = []
    start = 0
    separator = None
    for match in re.finditer(r"[ -]", run):
        if separator is not None and match.group() != separator:
            pieces.append((start, run[start : match.start()]))
            start = match.end()
            separator = None
            continue
        separator = match.group()
    pieces.append((start, run[start:]))
    return pieces


def mask_card_numbers(text: str) -> str:
    """Return the text with every payment card number in it masked down to its last four digits."""
    if not text or sum(char.isdigit() for char in text) < 13:
        return text
    out = []
    position = 0
    for match in _DIGIT_RUN.finditer(text):
        head = _IBAN_HEAD.search(text[max(0, match.start() - 5) : match.start()])
        if head and _is_iban(head.group(1), re.sub(r"\D", "", match.group())):
            continue
        for offset, piece in _split_mixed_run(match.group()):
            span = _find_card_in_run(piece)
            if span is None:
                continue
            start = match.start() + offset + span[0]
            end = match.start() + offset + span[1]
            out.append(text[position:start])
            out.append(_mask(text[start:end]))
            position = end
    out.append(text[position:])
    return "".join(out)
