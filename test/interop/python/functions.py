"""Functions written with the official StateFun Python SDK (apache-flink-statefun 3.3.0), served over
HTTP with the standard library on 127.0.0.1:<port> (first argument), every path, POST only.

The behaviour is the same in every language of test/interop (see official-sdks.test.ts)."""

import json
import sys
import time
import traceback
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from statefun import (
    IntType,
    RequestReplyHandler,
    StatefulFunctions,
    ValueSpec,
    kafka_egress_message,
    make_json_type,
    message_builder,
)

COMMAND = make_json_type("com.example/Command")
NOTE = make_json_type("com.example/Note")
RECORDER = "com.example/recorder"
OUT = "com.example/out"

functions = StatefulFunctions()


def now_ms():
    """The wall clock in whole ms since the epoch, rounded down like Date.now() (integer ns: no float error)."""
    return time.time_ns() // 1_000_000


@functions.bind(typename="com.example/counter", specs=[ValueSpec(name="count", type=IntType)])
def counter(context, message):
    command = message.as_type(COMMAND)
    if command.get("op") != "add":
        return
    count = (context.storage.count or 0) + 1
    context.storage.count = count
    self_id = context.address.id
    context.send(
        message_builder(
            target_typename=RECORDER,
            target_id="r",
            value={"tag": f"counter:{self_id}", "count": count},
            value_type=NOTE,
        )
    )
    context.send_egress(
        kafka_egress_message(typename=OUT, topic="counts-out", key=self_id, value=f"{self_id}={count}")
    )


@functions.bind(typename="com.example/scheduler")
def scheduler(context, message):
    command = message.as_type(COMMAND)
    op = command.get("op")
    if op == "schedule":
        value = {"tag": command["tag"], "scheduledAt": now_ms()}
        note = message_builder(target_typename=RECORDER, target_id="r", value=value, value_type=NOTE)
        token = command.get("token")
        delay = timedelta(milliseconds=command["delayMs"])
        if token is None:
            context.send_after(delay, note)
        else:
            context.send_after(delay, note, cancellation_token=token)
    elif op == "cancel":
        context.cancel_delayed_message(command["token"])


@functions.bind(typename="com.example/recorder")
def recorder(context, message):
    delivered_at = now_ms()
    note = message.as_type(NOTE)
    caller = context.caller
    record = {
        "tag": note.get("tag"),
        "count": note.get("count"),
        "caller": None if caller is None else f"{caller.typename}/{caller.id}",
        "scheduledAt": note.get("scheduledAt"),
        "deliveredAt": delivered_at,
    }
    context.send_egress(kafka_egress_message(typename=OUT, topic="notes", key="r", value=json.dumps(record)))


@functions.bind(
    typename="com.example/expiring",
    specs=[ValueSpec(name="seen", type=IntType, expire_after_write=timedelta(seconds=1))],
)
def expiring(context, message):
    command = message.as_type(COMMAND)
    if command.get("op") != "add":
        return
    seen = (context.storage.seen or 0) + 1
    context.storage.seen = seen
    self_id = context.address.id
    context.send_egress(kafka_egress_message(typename=OUT, topic="expiring", key=self_id, value=f"{self_id}={seen}"))


handler = RequestReplyHandler(functions)


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            response = handler.handle_sync(body)
            status = 200
        except Exception as err:  # the runtime retries a failed batch; the reason goes to stderr
            self.log_error("invocation failed:\n%s", traceback.format_exc())
            response = str(err).encode("utf-8")
            status = 500
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Endpoint)
    server.daemon_threads = True
    print(f"official Python SDK functions listening on 127.0.0.1:{port}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
