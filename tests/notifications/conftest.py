from ..mail_server import smtp_server  # noqa: F401  (the fixture)
