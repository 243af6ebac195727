from django.contrib import admin

from .models import EmailAttachment, ThreadedEmail


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the email channel only; the owner looks here to see why a mail threaded as it did."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ThreadedEmail)
class ThreadedEmailAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "conversation", "direction", "subject", "message_id_header"]
    list_filter = ["direction"]
    search_fields = ["message_id_header", "subject"]
    list_select_related = ["conversation__visitor"]
    raw_id_fields = ["conversation", "message"]


@admin.register(EmailAttachment)
class EmailAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["filename", "content_type", "size", "message"]
    search_fields = ["filename"]
    raw_id_fields = ["message"]
