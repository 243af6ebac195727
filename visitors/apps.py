from django.apps import AppConfig


class VisitorsConfig(AppConfig):
    name = "visitors"

    def ready(self):
        from helpdesk import events as hub

        hub.subscribe(finalise_recordings_of_departed_visitor)


def finalise_recordings_of_departed_visitor(event: dict) -> None:
    """A visitor who left the website has finished their recorded visit."""
    if event["type"] != "visitor.left":
        return
    from .recordings import recordings_of_departed_visitor
    from .tasks import finalise_recording

    for recording_id in recordings_of_departed_visitor(visitor_id=event["visitor"]["id"]):
        finalise_recording.delay(recording_id)
