"""The generated Python client (clients/python) against a running local host: it enqueues a job,
waits for it and reads its result, lists it, and reads a refusal as the API's error shape.
Run by scripts/python-client.sh test (make test), which sets JOBQ_API_URL."""

import os
import time
import unittest
import uuid

from jobq_client import Client
from jobq_client.api.default import enqueue, get_job, list_jobs
from jobq_client.models import Error, Job, JobStatus, NewJob, Page

TERMINAL = {JobStatus.COMPLETED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED}


def client() -> Client:
    return Client(base_url=os.environ["JOBQ_API_URL"], raise_on_unexpected_status=True, timeout=30.0)


def wait_for(api: Client, job_id: str, seconds: float = 60.0) -> Job:
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
        api = client()
        payload = {"from": "python", "n": 7, "words": ["a", "b"]}
        key = f"py-{uuid.uuid4()}"
        created = enqueue.sync(client=api, body=NewJob(type_="echo", payload=payload, idempotency_key=key))
        self.assertIsInstance(created, Job, created)
        self.assertEqual(created.type_, "echo")
        done = wait_for(api, created.id)
        self.assertEqual(done.status, JobStatus.COMPLETED, done)
        self.assertEqual(done.result, payload)
        self.assertEqual(done.attempts, 1)
        again = enqueue.sync_detailed(client=api, body=NewJob(type_="echo", payload=payload, idempotency_key=key))
        self.assertEqual(again.status_code, 200, "the same key answers the job it made")
        self.assertEqual(again.parsed.id, created.id)

    def test_a_listing_by_type_holds_the_job(self):
        api = client()
        created = enqueue.sync(client=api, body=NewJob(type_="noop"))
        self.assertIsInstance(created, Job, created)
        wait_for(api, created.id)
        page = list_jobs.sync(client=api, type_="noop", limit=100)
        self.assertIsInstance(page, Page, page)
        self.assertIn(created.id, [job.id for job in page.jobs])

    def test_an_unknown_type_is_a_422_naming_the_field(self):
        refused = enqueue.sync_detailed(client=client(), body=NewJob(type_="no_such_type"))
        self.assertEqual(refused.status_code, 422)
        self.assertIsInstance(refused.parsed, Error, refused.content)
        self.assertEqual(refused.parsed.error.field, "type")


if __name__ == "__main__":
    unittest.main()
