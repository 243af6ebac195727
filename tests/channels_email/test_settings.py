from ..helpdesk.test_settings import start


def test_production_refuses_an_inbound_webhook_without_its_secret():
    result = start(DEBUG="0", SECRET_KEY="s3cret", ALLOWED_HOSTS="help.example.com", EMAIL_INBOUND_ESP="postmark")

    assert result.returncode != 0
    assert "ANYMAIL_WEBHOOK_SECRET must be set" in result.stderr
