"""Run moto_server for jobq's local stack and tests.

Same as `moto_server -H HOST -p PORT`, with one difference: DynamoDB requests are served one at a
time. Real DynamoDB (and LocalStack's) applies each conditional write atomically; moto checks the
condition and writes in separate steps, so two concurrent conditional claims could both succeed.
SQS and S3 stay concurrent (long polls must not block other requests).
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialise_dynamodb(app):
    lock = threading.Lock()

    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            # Consume the whole response inside the lock: the write happens while it is built.
            body = list(app(environ, start_response))
        return body

    return wrapped


def quick_sqs(models):
    """moto's SQS works out every attribute of a queue (three by walking all its messages, each
    asking a slow clock whether it is visible) for every message it sends and every message it
    receives: each costs time in proportion to the queue's length, and a receive of 10 from a
    queue of 2,000 messages takes seconds. Read the same wall clock from time.time(), and a
    message's retention period from its queue rather than from all the queue's attributes: the
    answers are the same, and they no longer slow down as a queue grows (make bench enqueues
    thousands of jobs at once)."""
    import time

    clock = models.unix_time

    def unix_time(dt=None):
        return time.time() if dt is None else clock(dt)

    def unix_time_millis(dt=None):
        return unix_time(dt) * 1000.0

    def retained(self, queue_name, message):
        period = int(self.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > time.time()

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = retained


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from moto.sqs import models as sqs_models

    quick_sqs(sqs_models)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialise_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
