import pytest

from conversations.masking import is_card_number, mask_card_numbers

MASKED = [
    # Every card family, bare.
    ("4111111111111111", "************1111"),  # Visa 16
    ("4222222222222", "*********2222"),  # Visa 13
    ("4000000000000000006", "***************0006"),  # Visa 19
    ("5555555555554444", "************4444"),  # Mastercard 51-55
    ("5105105105105100", "************5100"),
    ("2221000000000009", "************0009"),  # Mastercard 2-series, low end
    ("2223003122003222", "************3222"),
    ("2720990000000007", "************0007"),  # Mastercard 2-series, high end
    ("378282246310005", "***********0005"),  # American Express
    ("371449635398431", "***********8431"),
    ("6011111111111117", "************1117"),  # Discover
    ("6445644564456445", "************6445"),
    ("3530111333300000", "************0000"),  # JCB
    ("3566002020360505", "************0505"),
    ("30569309025904", "**********5904"),  # Diners Club
    ("38520000023237", "**********3237"),
    ("36227206271667", "**********1667"),
    ("6759649826438453", "************8453"),  # Maestro
    ("6304000000000000", "************0000"),  # Maestro UK
    ("5018000000000009", "************0009"),  # Maestro 50
    ("6200000000000005", "************0005"),  # UnionPay
    # Grouped with spaces or dashes, in the usual layouts.
    ("4111 1111 1111 1111", "**** **** **** 1111"),
    ("4111-1111-1111-1111", "****-****-****-1111"),
    ("3782 822463 10005", "**** ****** *0005"),  # Amex 4-6-5: only the last four stay
    ("3056 930902 5904", "**** ****** 5904"),  # Diners 4-6-4
    ("2221 0000 0000 0009", "**** **** **** 0009"),
    ("4000 0000 0000 0000 006", "**** **** **** ***0 006"),
    # Inside sentences, at line ends, in several languages.
    ("My card is 4111 1111 1111 1111, expires 12/27.", "My card is **** **** **** 1111, expires 12/27."),
    ("A kártyaszámom: 5555-5555-5555-4444.", "A kártyaszámom: ****-****-****-4444."),
    ("Meine Karte:\n4012888888881881\nDanke", "Meine Karte:\n************1881\nDanke"),
    ("número 378282246310005 gracias", "número ***********0005 gracias"),
    ("Номер карты 6011111111111117", "Номер карты ************1117"),
    ("two: 4111111111111111 and 5555 5555 5555 4444", "two: ************1111 and **** **** **** 4444"),
    ("(4111111111111111)", "(************1111)"),
    ("card:4111111111111111", "card:************1111"),
    # A number written just before the card on the same line stays; the card is still hidden.
    ("qty 12 4111 1111 1111 1111", "qty 12 **** **** **** 1111"),
    ("4111 1111 1111 1111 12/27", "**** **** **** 1111 12/27"),
    # Something shaped like an IBAN's first group does not protect a card: only a valid IBAN does.
    ("AB12 4111 1111 1111 1111", "AB12 **** **** **** 1111"),
    ("ref HU42 4111111111111111", "ref HU42 ************1111"),
]

UNCHANGED = [
    "+36 30 123 4567",  # phone numbers
    "06-30-123-4567",
    "(555) 123-4567 or 555 123 4567",
    "2024-01-15",  # dates
    "15 01 2024 10:30",
    "4111111111111112",  # order numbers that fail Luhn
    "Order 5555555555554445 shipped",
    "HU42 1177 3016 1111 1018 0000 0000",  # IBANs
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "HU42117730161111101800000000",
    "41111111111111111111",  # longer digit runs
    "Tracking 9400111899223197428490 arrives",
    "1234567812345670",  # Luhn-valid but no card prefix
    "0000000000000000",
    "411111111111",  # too short
    "v4111111111111111",  # part of a word
    "3.14159265358979",
    "",
    "Hello, how can I help?",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_card_numbers_are_masked_to_their_last_four_digits(text, expected):
    assert mask_card_numbers(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_text_without_card_numbers_is_left_alone(text):
    assert mask_card_numbers(text) == text


def test_masking_twice_changes_nothing_more():
    once = mask_card_numbers("4111 1111 1111 1111")
    assert mask_card_numbers(once) == once


def test_card_number_recognition_needs_prefix_length_and_checksum():
    assert is_card_number("4111111111111111")
    assert not is_card_number("4111111111111112")  # checksum
    assert not is_card_number("378282246310005" + "0")  # Amex has 15 digits
    assert not is_card_number("9111111111111111")  # no card starts with 9
