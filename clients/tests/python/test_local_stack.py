"""The generated Python client (clients/python) against a running local host: it enqueues jobs
with typed payloads, waits for them and reads their results, lists them, and reads refusals as
the API's error shape.
Run by scripts/python-client.sh test (make test), which sets JOBQ_API_URL and JOBQ_CLIENT_TOKEN (an
admin's token the host holds)."""

import os
import time
import unittest
import uuid

from jobq_client import AuthenticatedClient, Client
from jobq_client.api.default import enqueue, get_job, list_jobs
from jobq_client.models import Error, Job, JobStatus, NewJobEcho, NewJobNoop, NewJobSleep, Page, PayloadSleep

TERMINAL = {JobStatus.COMPLETED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED}


def client() -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=os.environ["JOBQ_API_URL"],
        token=os.environ["JOBQ_CLIENT_TOKEN"],
        raise_on_unexpected_status=True,
        timeout=30.0,
    )


def wait_for(api: AuthenticatedClient, job_id: str, seconds: float = 60.0) -> Job:
    deadline = time.monotonic() + seconds
    while True:
        job = get_job.sync(job_id, client=api)
        if not isinstance(job, Job):
            raise AssertionError(f"GET /jobs/{job_id} answered {job!r}")
        if job.status in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


class LocalStack(unittest.TestCase):
    def test_an_echo_job_is_enqueued_waited_for_and_read(self):
        api = self.enterContext(client())
        payload = {"from": "python", "n": 7, "words": ["a", "b"]}
        key = f"py-{uuid.uuid4()}"
        created = enqueue.sync(client=api, body=NewJobEcho(type_="echo", payload=payload, idempotency_key=key))
        self.assertIsInstance(created, Job, created)
        self.assertEqual(created.type_, "echo")
        done = wait_for(api, created.id)
        self.assertEqual(done.status, JobStatus.COMPLETED, done)
        self.assertEqual(done.result, payload)
        self.assertEqual(done.attempts, 1)
        again = enqueue.sync_detailed(client=api, body=NewJobEcho(type_="echo", payload=payload, idempotency_key=key))
        self.assertEqual(again.status_code, 200, "the same key answers the job it made")
        self.assertEqual(again.parsed.id, created.id)

    def test_a_listing_by_type_holds_the_job(self):
        api = self.enterContext(client())
        created = enqueue.sync(client=api, body=NewJobNoop(type_="noop"))
        self.assertIsInstance(created, Job, created)
        wait_for(api, created.id)
        page = list_jobs.sync(client=api, type_="noop", limit=100)
        self.assertIsInstance(page, Page, page)
        self.assertIn(created.id, [job.id for job in page.jobs])

    def test_a_typed_payload_runs_its_type(self):
        api = self.enterContext(client())
        body = NewJobSleep(type_="sleep", payload=PayloadSleep(seconds=0.2, steps=2))
        created = enqueue.sync(client=api, body=body)
        self.assertIsInstance(created, Job, created)
        self.assertEqual(created.payload, {"seconds": 0.2, "steps": 2})
        done = wait_for(api, created.id)
        self.assertEqual(done.status, JobStatus.COMPLETED, done)
        self.assertEqual(done.progress, 100)

    def test_an_unknown_type_is_a_422_naming_the_field(self):
        refused = enqueue.sync_detailed(client=self.enterContext(client()), body=NewJobEcho(type_="no_such_type"))
        self.assertEqual(refused.status_code, 422)
        self.assertIsInstance(refused.parsed, Error, refused.content)
        self.assertEqual(refused.parsed.error.field, "type")

    def test_a_payload_that_does_not_fit_its_type_is_a_422_naming_the_field(self):
        # The untyped spec class lets a wrong payload through to the API, which refuses it.
        body = NewJobEcho(type_="sleep", payload={"seconds": "long"})
        refused = enqueue.sync_detailed(client=self.enterContext(client()), body=body)
        self.assertEqual(refused.status_code, 422, refused.content)
        self.assertEqual(refused.parsed.error.field, "payload.seconds")

    def test_without_a_token_the_api_answers_401(self):
        anonymous = self.enterContext(Client(base_url=os.environ["JOBQ_API_URL"], timeout=30.0))
        refused = list_jobs.sync_detailed(client=anonymous)  # type: ignore[arg-type]
        self.assertEqual(refused.status_code, 401, refused.content)
        self.assertIsInstance(refused.parsed, Error, refused.content)
        self.assertEqual(refused.parsed.error.code, "unauthorized")


if __name__ == "__main__":
    unittest.main()
