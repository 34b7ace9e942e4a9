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


def quick_transactions(models):
    """moto backs up every table a TransactWriteItems touches with copy.deepcopy before it starts
    (items, indexes and the whole change stream), and puts the copy back when the transaction is
    refused. Each transaction then costs time and memory in proportion to everything the table
    ever held, and the copies (cyclic: a table's stream refers back to its table) wait for
    Python's cyclic collector: the counter's one transaction per chunk of changes drove the
    emulator past 20 GB during make bench. Back up only what a transaction can change instead:
    its items, and the length of each table's stream. DynamoDB requests are served one at a time
    (serialise_dynamodb), so nothing else writes in between."""
    import copy

    from moto.dynamodb.models.table import Table

    class TablesStayPut:
        """The module's `copy`, except that a Table is not copied (its backup is ours)."""

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = TablesStayPut
    transact = models.DynamoDBBackend.transact_write_items

    def key_of(table, op_type, op):
        attrs = op["Item"] if op_type == "Put" else op["Key"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key

    def backup(backend, transact_items):
        items, streams = [], {}
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = backend.tables[op["TableName"]]
                hash_key, range_key = backend.get_keys_value(table, key_of(table, op_type, op))
            except Exception:  # noqa: BLE001 moto refuses it before any write
                continue
            before = table.get_item(hash_key, range_key)
            items.append((table, hash_key, range_key, copy.deepcopy(before)))
            if table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        return items, streams

    def restore(items, streams):
        for table, hash_key, range_key, before in reversed(items):
            if range_key is None:
                table.items.pop(hash_key, None)
                if before is not None:
                    table.items[hash_key] = before
            else:
                table.items[hash_key].pop(range_key, None)
                if before is not None:
                    table.items[hash_key][range_key] = before
        for shard, length in streams.values():
            del shard.items[length:]

    def transact_write_items(self, transact_items):
        items, streams = backup(self, transact_items)
        try:
            return transact(self, transact_items)
        except Exception:
            restore(items, streams)
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from moto.sqs import models as sqs_models

    from moto.dynamodb import models as dynamodb_models

    quick_sqs(sqs_models)
    quick_transactions(dynamodb_models)
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
