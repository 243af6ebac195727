"""The one set of conversation search filters: the seed's (rating, agent, group, tags, website URL, IP
address) and more. The API and the dashboard's Advanced search both apply it through
`selectors.conversation_search`, so a filter means the same everywhere."""

import ipaddress
from datetime import UTC

import django_filters
from django import forms
from django.db import connection
from django.db.models import Exists, Lookup, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Agent, AgentGroup
from visitors.models import Visitor

from .models import Channel, Conversation, Message, Tag


class FullTextMatch(Lookup):
    """`body__matches="refund card"`: PostgreSQL full-text search, written exactly as the GIN index
    `message_body_fts_idx` (migration 0003) is built, so the planner can use it."""

    lookup_name = "matches"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"to_tsvector('simple', {lhs}) @@ websearch_to_tsquery('simple', {rhs})", [*lhs_params, *rhs_params]


class InNetwork(Lookup):
    """`ip_address__in_network="203.0.113.0/24"` on PostgreSQL's inet column (a btree index serves `<<=`)."""

    lookup_name = "in_network"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} <<= {rhs}::inet", [*lhs_params, *rhs_params]


Message._meta.get_field("body").register_lookup(FullTextMatch)
Conversation._meta.get_field("ip_address").register_lookup(InNetwork)


# The largest id a filter accepts: a larger number does not fit the database's integer column.
MAX_ID = 999_999_999_999_999_999


def _is_id(value) -> bool:
    return str(value).isdigit() and 0 < int(value) <= MAX_ID


class IdChoiceField(django_filters.fields.ModelChoiceField):
    def to_python(self, value):
        if value not in self.empty_values and not _is_id(value):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdMultipleChoiceField(django_filters.fields.ModelMultipleChoiceField):
    def _check_values(self, value):
        for item in value:
            if not _is_id(item):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": item}
                )
        return super()._check_values(value)


class IdFilter(django_filters.ModelChoiceFilter):
    field_class = IdChoiceField


class IdsFilter(django_filters.ModelMultipleChoiceFilter):
    field_class = IdMultipleChoiceField


class RatingField(forms.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=5, **kwargs)


class NetworkField(forms.CharField):
    """An IP address or a CIDR range (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`)."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise forms.ValidationError(_("Enter an IP address or a CIDR range such as 203.0.113.0/24.")) from None


class UtcIsoDateTimeRangeField(django_filters.fields.IsoDateTimeRangeField):
    """A from/to range of ISO 8601 times, given to the database in UTC: Python accepts offsets up to
    24 hours that PostgreSQL refuses (`-21:32`), and a time at the edge of year 9999 may not convert."""

    def compress(self, data_list):
        value = super().compress(data_list)
        if value is None:
            return None
        try:
            return slice(*(moment.astimezone(UTC) if moment else moment for moment in (value.start, value.stop)))
        except OverflowError:
            raise forms.ValidationError(_("Enter a date and time between the years 1 and 9999.")) from None


class UtcIsoDateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    field_class = UtcIsoDateTimeRangeField


class RatingFilter(django_filters.NumberFilter):
    field_class = RatingField


class NetworkFilter(django_filters.Filter):
    field_class = NetworkField


class ConversationFilter(django_filters.FilterSet):
    rating = RatingFilter(field_name="rating", label=_("Rating"))
    rating_min = RatingFilter(field_name="rating", lookup_expr="gte")
    rating_max = RatingFilter(field_name="rating", lookup_expr="lte")
    agent = IdFilter(field_name="assignee", queryset=Agent.objects.all(), label=_("Agent"))
    group = IdFilter(queryset=AgentGroup.objects.all(), label=_("Group"))
    tag = IdsFilter(queryset=Tag.objects.all(), method="filter_tags", label=_("Tags"))
    tag_match = django_filters.ChoiceFilter(
        choices=[("any", _("any of the tags")), ("all", _("all of the tags"))], method="filter_nothing"
    )
    url = django_filters.CharFilter(field_name="page_url", lookup_expr="icontains", label=_("Website URL contains"))
    ip = NetworkFilter(method="filter_ip", label=_("IP address or range"))
    status = django_filters.ChoiceFilter(choices=Conversation.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    created = UtcIsoDateTimeFromToRangeFilter(field_name="created_at")
    resolved = UtcIsoDateTimeFromToRangeFilter(field_name="resolved_at")
    visitor = IdFilter(queryset=Visitor.objects.all())
    q = django_filters.CharFilter(method="filter_text", label=_("Words in the messages"))

    class Meta:
        model = Conversation
        fields: list[str] = []

    @classmethod
    def parameters(cls) -> dict[str, bool]:
        """Every query parameter the filters accept, each with whether it may be repeated."""
        names = {}
        for name, filter_ in cls.base_filters.items():
            if isinstance(filter_, django_filters.RangeFilter):
                # Date ranges are read from `<name>_after` and `<name>_before` (DateRangeWidget).
                names.update({f"{name}_after": False, f"{name}_before": False})
            else:
                names[name] = isinstance(filter_, django_filters.ModelMultipleChoiceFilter)
        return names

    def filter_nothing(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset  # read by filter_tags

    def filter_tags(self, queryset: QuerySet, name: str, tags) -> QuerySet:
        if not tags:
            return queryset
        tagged = Conversation.tags.through.objects.filter(conversation=OuterRef("pk"))
        if self.form.cleaned_data.get("tag_match") == "all":
            for tag in tags:
                queryset = queryset.filter(Exists(tagged.filter(tag=tag)))
            return queryset
        return queryset.filter(Exists(tagged.filter(tag__in=tags)))

    def filter_ip(self, queryset: QuerySet, name: str, network) -> QuerySet:
        if network is None:
            return queryset
        if network.num_addresses == 1:
            return queryset.filter(ip_address=str(network.network_address))
        if connection.vendor == "postgresql":
            return queryset.filter(ip_address__in_network=str(network))
        # SQLite stores addresses as text: test the (few) distinct addresses in Python.
        addresses = queryset.exclude(ip_address__isnull=True).values_list("ip_address", flat=True).distinct()
        matching = [address for address in addresses if _in_network(address, network)]
        return queryset.filter(ip_address__in=matching)

    def filter_text(self, queryset: QuerySet, name: str, text: str) -> QuerySet:
        text = (text or "").strip()
        if not text:
            return queryset
        if connection.vendor == "postgresql":
            # Matching messages first (from the GIN index), then their conversations.
            matching = Message.objects.filter(body__matches=text)
        else:
            # The embedded default has no full-text index: every word must appear, in any letter case.
            condition = Q()
            for word in text.split():
                condition &= Q(body__icontains=word)
            matching = Message.objects.filter(condition)
        return queryset.filter(pk__in=matching.values("conversation_id"))


def _in_network(address: str, network) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False
