from django import template

register = template.Library()


@register.filter
def duration_ms(milliseconds) -> str:
    """A recording's length as m:ss (h:mm:ss past an hour)."""
    seconds = int(milliseconds or 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
