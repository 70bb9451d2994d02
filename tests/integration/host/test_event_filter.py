"""The local stand-in for Event Grid applies the subscription's filter before it delivers."""

import threading

import httpx
import pytest

from devstack.host.watcher import EventGridDelivery
from devstack.host.webhook import blob_created_event


@pytest.fixture
def webhook():
    """A webhook that records what reaches it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(httpx.Response(200, content=body).json()[0]["data"]["api"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/runtime/webhooks/blobs", received
    server.shutdown()


def test_a_partial_write_raises_no_delivery_and_committing_writes_do(webhook):
    url, received = webhook
    stop = threading.Event()
    delivery = EventGridDelivery(url, stop=stop)
    for api in ("CreateFile", "PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose", "PutBlock"):
        event = blob_created_event("http://127.0.0.1:10000/devstoreaccount1/source/a.txt", etag="0x1", size=1)
        event["data"]["api"] = api
        delivery(event)
    # The filter drops an event before any delivery starts; the others arrive in their own time.
    import time

    deadline = time.monotonic() + 30
    while len(received) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery.close()
    assert sorted(received) == sorted(["PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"])


def test_only_events_under_the_subscriptions_subject_prefix_are_delivered(webhook):
    url, received = webhook
    stop = threading.Event()
    prefix = "/blobServices/default/containers/target/blobs/.inflight/"
    delivery = EventGridDelivery(url, stop=stop, subject_begins_with=prefix)
    # The filter runs before a delivery is handed to a sender: the last event is the only one sent.
    for name, api in (("fr/a.txt", "PutBlob"), (".INFLIGHT/x", "CopyBlob"), (".inflight/k-1/fr.txt", "PutBlockList")):
        event = blob_created_event(f"http://127.0.0.1:10000/devstoreaccount1/target/{name}", etag="0x1", size=1)
        event["data"]["api"] = api
        delivery(event)
    import time

    deadline = time.monotonic() + 30
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery.close()
    assert received == ["PutBlockList"]
