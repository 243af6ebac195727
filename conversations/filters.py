"""The one set of conversation search filters: the seed's (rating, agent, group, tags, website URL, IP
address) and more. The API and the dashboard's Advanced search both apply it through
`selectors.conversation_search`, so a filter means the same everywhere."""

import copy
import ipaddress
from datetime import UTC, timedelta

import django_filters
from django import forms
from django.db import connection
from django.db.models import BooleanField, Exists, Expression, Lookup, OuterRef, Q, QuerySet
from django.utils import translation
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


class ContainsAnyCase(Lookup):
    """`page_url__contains_any_case="checkout"`: `ILIKE '%checkout%'`, which the trigram index
    `conv_page_url_trgm_idx` (migration 0002) serves. Django's `icontains` writes
    `UPPER(page_url) LIKE UPPER(...)` on PostgreSQL, which no index on `page_url` can serve."""

    lookup_name = "contains_any_case"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        # % and _ in the value are matched literally, as with icontains.
        rhs_params = [f"%{connection.ops.prep_for_like_query(param)}%" for param in rhs_params]
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


class TagIdsMatch(Expression):
    """On PostgreSQL, the conversation has all (`every`) or any of the tags: a test of the
    `tag_ids` array its links keep (migration 0007; the model does not declare the column), which
    the GIN index `conv_tag_ids_idx` serves."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, tag_ids: list[int], *, every: bool):
        super().__init__()
        self.tag_ids, self.every, self.alias = tag_ids, every, None

    def resolve_expression(self, query=None, *args, **kwargs):
        resolved = self.copy()
        resolved.alias = query.get_initial_alias()
        return resolved

    def relabeled_clone(self, change_map):
        clone = self.copy()
        clone.alias = change_map.get(self.alias, self.alias)
        return clone

    def as_sql(self, compiler, connection):
        operator = "@>" if self.every else "&&"
        return f"{compiler.quote_name_unless_alias(self.alias)}.tag_ids {operator} %s::bigint[]", [self.tag_ids]


Message._meta.get_field("body").register_lookup(FullTextMatch)
Conversation._meta.get_field("page_url").register_lookup(ContainsAnyCase)
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


class RatingFilter(django_filters.NumberFilter):
    field_class = RatingField


class NetworkFilter(django_filters.Filter):
    field_class = NetworkField


class MomentField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 moment, compared in UTC. An offset beyond every real time zone (±14:00) is refused:
    databases cannot store it (PostgreSQL stops near ±16:00), and no visitor lives there."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None or moment.utcoffset() is None:
            return moment
        if abs(moment.utcoffset()) > timedelta(hours=14):
            raise forms.ValidationError(_("Give a time zone offset between -14:00 and +14:00."))
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(_("Give a date between the years 1 and 9999.")) from None


class MomentRangeField(django_filters.fields.RangeField):
    widget = django_filters.widgets.DateRangeWidget

    def __init__(self, *args, **kwargs):
        super().__init__((MomentField(), MomentField()), *args, **kwargs)


class MomentRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    field_class = MomentRangeField


class _FiltersCopiedShallow(dict):
    """`base_filters` of a FilterSet whose copy for each search is a shallow copy of each filter.

    django-filter deep-copies every filter for every search, their querysets, choices and labels
    included, which was a tenth of a search's Python time. A filter's only state of its own per search
    is its parent FilterSet and model (set right after the copy), and its FilterMethod, which must call
    the copy: made again here."""

    def __deepcopy__(self, memo):
        copies = {}
        for name, filter_ in self.items():
            clone = copy.copy(filter_)
            clone.__dict__.pop("_field", None)
            if filter_.method is not None:
                clone.method = filter_.method
            copies[name] = clone
        return copies


class _FieldsShared(dict):
    """`base_fields` of the search form, whose fields every form shares instead of deep-copying them:
    the form is only validated (never rendered or changed), and cleaning a value changes no field."""

    def __deepcopy__(self, memo):
        return dict(self)


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
    url = django_filters.CharFilter(method="filter_url", label=_("Website URL contains"))
    ip = NetworkFilter(method="filter_ip", label=_("IP address or range"))
    status = django_filters.ChoiceFilter(choices=Conversation.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    created = MomentRangeFilter(field_name="created_at")
    resolved = MomentRangeFilter(field_name="resolved_at")
    visitor = IdFilter(queryset=Visitor.objects.all())
    q = django_filters.CharFilter(method="filter_text", label=_("Words in the messages"))

    class Meta:
        model = Conversation
        fields: list[str] = []

    def get_form_class(self):
        # The form's fields are the same for every search: django-filter builds them again each time.
        # Built once per language, as their default labels are translated when they are made.
        key = translation.get_language()
        form_class = _FORM_CLASSES.get(key)
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _FieldsShared(form_class.base_fields)
            _FORM_CLASSES[key] = form_class
        return form_class

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
        # No tag given is `Tag.objects.none()`: asking it whether it is empty would compile a query.
        if (isinstance(tags, QuerySet) and tags.query.is_empty()) or not tags:
            return queryset
        every = self.form.cleaned_data.get("tag_match") == "all"
        if connection.vendor == "postgresql":
            return queryset.filter(TagIdsMatch([tag.pk for tag in tags], every=every))
        tagged = Conversation.tags.through.objects.filter(conversation=OuterRef("pk"))
        if every:
            for tag in tags:
                queryset = queryset.filter(Exists(tagged.filter(tag=tag)))
            return queryset
        return queryset.filter(Exists(tagged.filter(tag__in=tags)))

    def filter_url(self, queryset: QuerySet, name: str, text: str) -> QuerySet:
        if not text:
            return queryset
        if connection.vendor == "postgresql":
            return queryset.filter(page_url__contains_any_case=text)
        return queryset.filter(page_url__icontains=text)

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


_FORM_CLASSES: dict[str | None, type] = {}
ConversationFilter.base_filters = _FiltersCopiedShallow(ConversationFilter.base_filters)


def _in_network(address: str, network) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False
