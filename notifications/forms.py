"""The form the dashboard's personal settings page shows; saving goes through the service."""

from django import forms

from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from . import selectors, services
from .models import NotificationSettings


class NotificationSettingsForm(forms.ModelForm):
    """`NotificationSettingsForm(data, agent=request.user)`; `form.save(actor=request.user)`."""

    class Meta:
        model = NotificationSettings
        fields = ["offline_messages", "missed_conversations"]

    def __init__(self, data=None, *, agent: Agent, **kwargs):
        super().__init__(data, instance=selectors.notification_settings_of(agent), **kwargs)
        self.agent = agent

    def save(self, commit: bool = True, *, actor: Agent | None = None) -> NotificationSettings | None:
        """Returns the saved settings, or None with the refusal added to the form's errors."""
        try:
            return services.notification_settings_update(
                agent=self.agent,
                actor=actor or self.agent,
                offline_messages=self.cleaned_data["offline_messages"],
                missed_conversations=self.cleaned_data["missed_conversations"],
            )
        except ServiceError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
            return None
