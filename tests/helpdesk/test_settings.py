import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=environment | {"DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"ALLOWED_HOSTS": "help.example.com"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "s3cret"}, "ALLOWED_HOSTS must be set"),
    ],
)
def test_production_refuses_to_start_without_its_settings(env, reason):
    result = start(DEBUG="0", **env)

    assert result.returncode != 0
    assert reason in result.stderr


def test_production_starts_with_its_settings():
    result = start(DEBUG="0", SECRET_KEY="s3cret", ALLOWED_HOSTS="help.example.com")

    assert result.stdout.strip() == "started", result.stderr


def test_a_malformed_boolean_is_refused_with_its_name():
    result = start(DEBUG="maybe")

    assert result.returncode != 0
    assert "DEBUG must be" in result.stderr


def test_keeping_no_record_of_who_is_online_today_is_refused():
    result = start(AGENT_ONLINE_SPANS_KEEP_DAYS="0")

    assert result.returncode != 0
    assert "AGENT_ONLINE_SPANS_KEEP_DAYS must be 1 or more" in result.stderr


def test_the_database_pool_holds_a_connection_for_every_thread_that_can_use_one():
    """More request threads than pooled connections would make requests wait, then fail after 30 s."""
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['pool']['max_size'])"
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "HTTP_THREADS": "30",
        "DATABASE_THREADS": "12",
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == str(30 + 12 + 4), result.stderr
