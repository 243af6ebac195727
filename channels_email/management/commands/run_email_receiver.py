import signal
import threading

from django.core.management.base import BaseCommand

from channels_email.receiver import ReceiverController


class Command(BaseCommand):
    help = "Receive visitors' email replies over SMTP or LMTP (point your mail server's reply domain here)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8025, help="Port to listen on (default 8025).")
        parser.add_argument("--lmtp", action="store_true", help="Speak LMTP instead of SMTP.")

    def handle(self, *args, host, port, lmtp, **options):
        controller = ReceiverController(hostname=host, port=port, lmtp=lmtp)
        controller.start()
        protocol = "LMTP" if lmtp else "SMTP"
        self.stdout.write(f"Receiving email over {protocol} on {host}:{port}. Stop with Ctrl+C.")
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        stopped.wait()
        controller.stop()
