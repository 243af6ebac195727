import re

from channels_email.addresses import conversation_id_from_address, looks_like_reply_address, reply_address


def test_reply_address_names_its_conversation():
    assert conversation_id_from_address(reply_address(42)) == 42


def test_reply_address_is_an_ordinary_lowercase_local_part_on_the_inbound_domain():
    assert re.fullmatch(r"reply\+42-[a-z2-7]{16}@reply\.example\.com", reply_address(42))


def test_reply_address_survives_a_mail_server_that_changes_letter_case():
    assert conversation_id_from_address(reply_address(42).upper()) == 42


def test_reply_address_inside_a_display_name_form_is_not_accepted_as_is():
    assert conversation_id_from_address(f"Lili <{reply_address(42)}>") is None


def test_forged_token_for_another_conversation_is_rejected():
    signature = reply_address(42).split("-")[1].split("@")[0]
    forged = f"reply+43-{signature}@reply.example.com"
    assert conversation_id_from_address(forged) is None
    assert looks_like_reply_address(forged)


def test_tampered_signature_is_rejected():
    address = reply_address(42)
    tampered = address.replace(address[10], "a" if address[10] != "a" else "b", 1)
    assert conversation_id_from_address(tampered) is None


def test_reply_address_on_another_domain_is_not_ours():
    local = reply_address(42).split("@")[0]
    assert conversation_id_from_address(f"{local}@elsewhere.example.org") is None
    assert not looks_like_reply_address(f"{local}@elsewhere.example.org")


def test_reply_address_signed_before_a_key_rotation_still_works(settings):
    old = reply_address(42)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-after-rotation-0123456789"
    assert reply_address(42) != old
    assert conversation_id_from_address(old) == 42


def test_reply_address_signed_with_another_key_is_rejected(settings):
    old = reply_address(42)
    settings.SECRET_KEY = "a-brand-new-secret-key-after-rotation-0123456789"
    assert conversation_id_from_address(old) is None
