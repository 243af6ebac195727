"""The OpenAPI schema is valid, documented, served offline, and the live API answers whatever
schemathesis generates from it without a server error."""

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from helpdesk.wsgi import application

from ..factories import ConversationFactory, MessageFactory, TagFactory, api_client_for

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/conversations/" in (tmp_path / "schema.yaml").read_text()


def test_every_endpoint_has_examples_and_documents_its_errors(client):
    schema = client.get("/api/v1/schema/?format=json").json()

    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert len(operations) > 20
    for operation in operations:
        answers = [answer for code, answer in operation["responses"].items() if code.startswith("2")]
        bodies = [body for answer in answers for body in answer.get("content", {}).values()]
        assert all("examples" in body for body in bodies), operation["operationId"]
        assert {"401", "403", "429"} <= set(operation["responses"]), operation["operationId"]


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_swagger_ui_and_redoc_are_served_without_the_internet(client, url):
    page = client.get(url).content.decode()

    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn.jsdelivr.net" not in page


@pytest.fixture
def live_api(db, settings, owner):
    """The whole Django app as WSGI, in this process and this test's transaction, with an owner's key."""
    settings.API_RATE_LIMIT = "100000/min"
    conversation = ConversationFactory(rating=4, tags=[TagFactory(name="refund")])
    MessageFactory(conversation=conversation, body="Where is my order?")
    key = api_client_for(owner)._credentials["HTTP_AUTHORIZATION"]
    # A real server closes its database connection after each request; here that would end the
    # test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    schema.authorization = key
    yield schema
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_generated_request_gets_a_server_error(live_api):
    # One property-based run per operation. (schemathesis' pytest fixture loader does not work with
    # this pytest version, so the operations are walked here.)
    failures = []
    operations = [result.ok() for result in live_api.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,  # no .hypothesis directory of saved examples
        )
        def no_server_error(case):
            case.call_and_validate(headers={"Authorization": live_api.authorization}, checks=[not_a_server_error])

        try:
            no_server_error()
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
