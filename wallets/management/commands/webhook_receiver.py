"""`python manage.py webhook_receiver [--port 9000] [--secret whsec_...] [--once]`: a receiver of this
service's event deliveries, for trying them on this machine (the README's events step): each
delivery is printed with its type, event id and whether its `Wallet-Signature` verifies with the
endpoint's secret, and answered 204 (400 when the signature does not verify or is over five minutes
old), as a client backend should. docs/events.md shows the same receiver in ten lines."""
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from django.core.management.base import BaseCommand

from wallets.events import SIGNATURE_HEADER, signature

TOLERANCE_SECONDS = 300


def verified(secret: str, header: str, body: bytes) -> bool:
    """The header's `v1` is our HMAC of `"<t>.<body>"`, and `t` is within five minutes of now."""
    try:
        parts = dict(part.strip().split("=", 1) for part in header.split(","))
        t, given = int(parts["t"]), parts["v1"]
    except (ValueError, KeyError):
        return False
    expected = signature(secret, t, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")) and abs(time.time() - t) < TOLERANCE_SECONDS


class Command(BaseCommand):
    help = "Receive this service's webhook deliveries on 127.0.0.1 and print each, verified with --secret."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9000)
        parser.add_argument("--secret", default="", help="the endpoint's secret (whsec_...), shown when it was made")
        parser.add_argument("--once", action="store_true", help="stop after the first delivery that verifies")

    def handle(self, *args, port, secret, once, **options):
        command = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                good = bool(secret) and verified(secret, self.headers.get(SIGNATURE_HEADER, ""), body)
                self.send_response(204 if good or not secret else 400)
                self.end_headers()
                try:
                    kind = json.loads(body).get("type")
                except (ValueError, AttributeError):
                    kind = None
                check = "signature verified" if good else ("not checked (no --secret)" if not secret else "BAD SIGNATURE")
                command.stdout.write(f"{kind} {self.headers.get('Wallet-Event-Id')} {check}")
                command.stdout.flush()
                if good and once:
                    command.done = True

            def log_message(self, *args):  # one line per delivery is ours
                pass

        self.done = False
        server = HTTPServer(("127.0.0.1", port), Receiver)  # one delivery at a time: --once stops right after it
        self.stdout.write(f"Receiving deliveries on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        self.stdout.flush()
        try:
            while not self.done:
                server.handle_request()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
