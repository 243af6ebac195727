import secrets

from django.core.management.base import BaseCommand

from helpdesk import services
from helpdesk.models import Agent

DEMO_EMAIL = "owner@example.com"


class Command(BaseCommand):
    help = "Create the demo owner on a fresh install and print how to log in."

    def handle(self, *args, **options):
        url = "http://127.0.0.1:8000/"
        if Agent.objects.exists():
            owner = Agent.objects.filter(role=Agent.Role.OWNER, is_active=True).order_by("pk").first()
            email = owner.email if owner else DEMO_EMAIL
            self.stdout.write(
                f"Log in at {url} as {email} with the password printed when it was created "
                f"(forgot it? `.venv/bin/python manage.py changepassword {email}`)."
            )
            return
        password = secrets.token_urlsafe(9)
        owner = services.agent_create(
            actor=None, email=DEMO_EMAIL, name="Demo Owner", password=password, role=Agent.Role.OWNER
        )
        # Online from the start: with the dashboard open, the demo shop offers live chat at once.
        services.agent_set_status(agent=owner, status=Agent.Status.ONLINE)
        self.stdout.write(self.style.SUCCESS(f"Demo owner created. Log in at {url} as {DEMO_EMAIL} / {password}"))
