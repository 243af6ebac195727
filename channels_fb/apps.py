from django.apps import AppConfig


class ChannelsFbConfig(AppConfig):
    name = "channels_fb"
    verbose_name = "Facebook Messenger"
