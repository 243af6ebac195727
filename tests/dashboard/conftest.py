import os
from pathlib import Path


def pytest_configure(config):
    """The browser tests serve the helpdesk from threads of the test process. An in-memory SQLite
    database shared between threads refuses concurrent access ("database table is locked") instead
    of waiting, so on SQLite the test database is a file (WAL, with the busy timeout of settings)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        folder = Path(settings.BASE_DIR) / "var"
        folder.mkdir(exist_ok=True)
        database.setdefault("TEST", {})["NAME"] = str(folder / f"test-{os.getpid()}.sqlite3")
