from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from helpdesk.admin import ServiceRefusalsShown

from . import services
from .models import PageView, Visitor, VisitorNote


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NoteInline(ReadOnlyInline):
    model = VisitorNote
    fields = ["created_at", "author", "body"]
    readonly_fields = fields


class PageViewInline(ReadOnlyInline):
    model = PageView
    fields = ["viewed_at", "url", "title", "referrer"]
    readonly_fields = fields
    max_num = 50


@admin.register(Visitor)
class VisitorAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "country", "ip_address", "last_seen_at"]
    list_filter = ["country", "browser", "os", "last_seen_at"]
    search_fields = ["name", "email", "phone", "external_id", "ip_address"]
    fields = [
        "name",
        "email",
        "phone",
        "external_id",
        "ip_address",
        "country",
        "city",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "first_referrer",
        "variables",
        "customer_data",
        "created_at",
        "last_seen_at",
        "conversation_links",
    ]
    inlines = [NoteInline, PageViewInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field for field in self.fields if field not in services.CONTACT_FIELDS]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("conversations"))
    def conversation_links(self, visitor):
        links = [
            format_html(
                '<a href="{}">#{} ({})</a>',
                reverse("admin:conversations_conversation_change", args=[conversation.pk]),
                conversation.pk,
                conversation.get_status_display(),
            )
            for conversation in visitor.conversations.order_by("-created_at")[:50]
        ]
        return format_html(", ".join(["{}"] * len(links)), *links) if links else "–"

    def save_model(self, request, obj, form, change):
        changes = {field: getattr(obj, field) for field in form.changed_data if field in services.CONTACT_FIELDS}
        services.visitor_update(visitor=obj, actor=request.user, **changes)
