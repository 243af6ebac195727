import factory
from django.utils import timezone

from channels_fb.models import FacebookPage, MessengerContact

from ..factories import VisitorFactory

PAGE_ID = "104538928367250"  # the page of the JSON fixtures
PSID = "6734419186622841"  # the customer of the JSON fixtures
APP_SECRET = "8f3c2a9d41e6b07f5c1d2e3a4b5c6d7e"


class FacebookPageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FacebookPage
        django_get_or_create = ["page_id"]

    page_id = PAGE_ID
    name = "Kávé Webshop"
    access_token = "EAAGm0PX4ZCpsBAKZBZCl7kZCZBZAy0ZBmRkZD-page-token-9c1f"
    app_secret = APP_SECRET


class MessengerContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessengerContact

    page = factory.SubFactory(FacebookPageFactory)
    psid = factory.Sequence(lambda n: f"67344191866{n:05d}")
    visitor = factory.SubFactory(VisitorFactory, name="Vera Vásárhelyi")
    last_customer_message_at = factory.LazyFunction(timezone.now)
    profile_checked_at = factory.LazyFunction(timezone.now)
