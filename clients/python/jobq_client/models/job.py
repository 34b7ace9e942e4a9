from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.job_status import JobStatus
from ..models.priority_tier import PriorityTier
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.audit import Audit
  from ..models.job_failure import JobFailure
  from ..models.pipeline_step import PipelineStep





T = TypeVar("T", bound="Job")



@_attrs_define
class Job:
    """ A job as stored in DynamoDB and returned by the API.

        Attributes:
            attempts (int):
            created_at (datetime.datetime):
            generation (int): Bumped by every retry from the API; envelopes of older generations are dropped.
            id (str):
            max_attempts (int):
            payload (Any):
            priority (int): Written as the number alone.
            progress (int):
            status (JobStatus): Where a job is in its life.
            tier (PriorityTier): One SQS queue (and its dead-letter queue) per tier.
            timeout_seconds (int):
            type_ (str):
            audit (Audit | Unset): A job's audit trail: who enqueued it, and the last cancel, retry and report (`PATCH`).
            batch_id (None | str | Unset):
            completed_at (datetime.datetime | None | Unset):
            current_step (None | str | Unset):
            duration_ms (int | None | Unset): Latest run: from start to finish.
            error (JobFailure | None | Unset):
            github_workflow_run_id (None | str | Unset):
            group (None | str | Unset): A set of jobs the owner lists together (`channel:abc`, `book:123`).
            idempotency_key (None | str | Unset):
            lease_until (datetime.datetime | None | Unset): While `processing`: the run owns the job until then.
            message (None | str | Unset):
            next_ (list[PipelineStep] | Unset): Jobs to enqueue when this one completes: the first now, carrying the rest as
                its own `next`.
            owner (None | str | Unset): Who the job belongs to (a caller's owner name, or one of jobq's system callers);
                none on
                a job from before owners.
            result (Any | Unset):
            run_at (datetime.datetime | None | Unset): When the job is (or was) due: a delay, a schedule, or a retry's
                backoff.
            started_at (datetime.datetime | None | Unset): Start of the latest run.
            wait_ms (int | None | Unset): Latest run: from due to start.
     """

    attempts: int
    created_at: datetime.datetime
    generation: int
    id: str
    max_attempts: int
    payload: Any
    priority: int
    progress: int
    status: JobStatus
    tier: PriorityTier
    timeout_seconds: int
    type_: str
    audit: Audit | Unset = UNSET
    batch_id: None | str | Unset = UNSET
    completed_at: datetime.datetime | None | Unset = UNSET
    current_step: None | str | Unset = UNSET
    duration_ms: int | None | Unset = UNSET
    error: JobFailure | None | Unset = UNSET
    github_workflow_run_id: None | str | Unset = UNSET
    group: None | str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    lease_until: datetime.datetime | None | Unset = UNSET
    message: None | str | Unset = UNSET
    next_: list[PipelineStep] | Unset = UNSET
    owner: None | str | Unset = UNSET
    result: Any | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    wait_ms: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.audit import Audit # noqa: PLC0415
        from ..models.job_failure import JobFailure # noqa: PLC0415
        from ..models.pipeline_step import PipelineStep # noqa: PLC0415
        attempts = self.attempts

        created_at = self.created_at.isoformat()

        generation = self.generation

        id = self.id

        max_attempts = self.max_attempts

        payload = self.payload

        priority = self.priority

        progress = self.progress

        status = self.status.value

        tier = self.tier.value

        timeout_seconds = self.timeout_seconds

        type_ = self.type_

        audit: dict[str, Any] | Unset = UNSET
        if not isinstance(self.audit, Unset):
            audit = self.audit.to_dict()

        batch_id: None | str | Unset
        if isinstance(self.batch_id, Unset):
            batch_id = UNSET
        else:
            batch_id = self.batch_id

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        elif isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        current_step: None | str | Unset
        if isinstance(self.current_step, Unset):
            current_step = UNSET
        else:
            current_step = self.current_step

        duration_ms: int | None | Unset
        if isinstance(self.duration_ms, Unset):
            duration_ms = UNSET
        else:
            duration_ms = self.duration_ms

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, JobFailure):
            error = self.error.to_dict()
        else:
            error = self.error

        github_workflow_run_id: None | str | Unset
        if isinstance(self.github_workflow_run_id, Unset):
            github_workflow_run_id = UNSET
        else:
            github_workflow_run_id = self.github_workflow_run_id

        group: None | str | Unset
        if isinstance(self.group, Unset):
            group = UNSET
        else:
            group = self.group

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        lease_until: None | str | Unset
        if isinstance(self.lease_until, Unset):
            lease_until = UNSET
        elif isinstance(self.lease_until, datetime.datetime):
            lease_until = self.lease_until.isoformat()
        else:
            lease_until = self.lease_until

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        next_: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.next_, Unset):
            next_ = []
            for next_item_data in self.next_:
                next_item = next_item_data.to_dict()
                next_.append(next_item)



        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        result = self.result

        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        elif isinstance(self.run_at, datetime.datetime):
            run_at = self.run_at.isoformat()
        else:
            run_at = self.run_at

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        wait_ms: int | None | Unset
        if isinstance(self.wait_ms, Unset):
            wait_ms = UNSET
        else:
            wait_ms = self.wait_ms


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "attempts": attempts,
            "created_at": created_at,
            "generation": generation,
            "id": id,
            "max_attempts": max_attempts,
            "payload": payload,
            "priority": priority,
            "progress": progress,
            "status": status,
            "tier": tier,
            "timeout_seconds": timeout_seconds,
            "type": type_,
        })
        if audit is not UNSET:
            field_dict["audit"] = audit
        if batch_id is not UNSET:
            field_dict["batch_id"] = batch_id
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if current_step is not UNSET:
            field_dict["current_step"] = current_step
        if duration_ms is not UNSET:
            field_dict["duration_ms"] = duration_ms
        if error is not UNSET:
            field_dict["error"] = error
        if github_workflow_run_id is not UNSET:
            field_dict["github_workflow_run_id"] = github_workflow_run_id
        if group is not UNSET:
            field_dict["group"] = group
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if lease_until is not UNSET:
            field_dict["lease_until"] = lease_until
        if message is not UNSET:
            field_dict["message"] = message
        if next_ is not UNSET:
            field_dict["next"] = next_
        if owner is not UNSET:
            field_dict["owner"] = owner
        if result is not UNSET:
            field_dict["result"] = result
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if wait_ms is not UNSET:
            field_dict["wait_ms"] = wait_ms

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit import Audit # noqa: PLC0415
        from ..models.job_failure import JobFailure # noqa: PLC0415
        from ..models.pipeline_step import PipelineStep # noqa: PLC0415
        d = dict(src_dict)
        attempts = d.pop("attempts")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        generation = d.pop("generation")

        id = d.pop("id")

        max_attempts = d.pop("max_attempts")

        payload = d.pop("payload")

        priority = d.pop("priority")

        progress = d.pop("progress")

        status = JobStatus(d.pop("status"))




        tier = PriorityTier(d.pop("tier"))




        timeout_seconds = d.pop("timeout_seconds")

        type_ = d.pop("type")

        _audit = d.pop("audit", UNSET)
        audit: Audit | Unset
        if isinstance(_audit,  Unset):
            audit = UNSET
        else:
            audit = Audit.from_dict(_audit)




        def _parse_batch_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        batch_id = _parse_batch_id(d.pop("batch_id", UNSET))


        def _parse_completed_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)



                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        completed_at = _parse_completed_at(d.pop("completed_at", UNSET))


        def _parse_current_step(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        current_step = _parse_current_step(d.pop("current_step", UNSET))


        def _parse_duration_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        duration_ms = _parse_duration_ms(d.pop("duration_ms", UNSET))


        def _parse_error(data: object) -> JobFailure | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = JobFailure.from_dict(data)



                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobFailure | None | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        def _parse_github_workflow_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        github_workflow_run_id = _parse_github_workflow_run_id(d.pop("github_workflow_run_id", UNSET))


        def _parse_group(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        group = _parse_group(d.pop("group", UNSET))


        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotency_key", UNSET))


        def _parse_lease_until(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                lease_until_type_0 = datetime.datetime.fromisoformat(data)



                return lease_until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        lease_until = _parse_lease_until(d.pop("lease_until", UNSET))


        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))


        _next_ = d.pop("next", UNSET)
        next_: list[PipelineStep] | Unset = UNSET
        if _next_ is not UNSET:
            next_ = []
            for next_item_data in _next_:
                next_item = PipelineStep.from_dict(next_item_data)



                next_.append(next_item)


        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))


        result = d.pop("result", UNSET)

        def _parse_run_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                run_at_type_0 = datetime.datetime.fromisoformat(data)



                return run_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        run_at = _parse_run_at(d.pop("run_at", UNSET))


        def _parse_started_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)



                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))


        def _parse_wait_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        wait_ms = _parse_wait_ms(d.pop("wait_ms", UNSET))


        job = cls(
            attempts=attempts,
            created_at=created_at,
            generation=generation,
            id=id,
            max_attempts=max_attempts,
            payload=payload,
            priority=priority,
            progress=progress,
            status=status,
            tier=tier,
            timeout_seconds=timeout_seconds,
            type_=type_,
            audit=audit,
            batch_id=batch_id,
            completed_at=completed_at,
            current_step=current_step,
            duration_ms=duration_ms,
            error=error,
            github_workflow_run_id=github_workflow_run_id,
            group=group,
            idempotency_key=idempotency_key,
            lease_until=lease_until,
            message=message,
            next_=next_,
            owner=owner,
            result=result,
            run_at=run_at,
            started_at=started_at,
            wait_ms=wait_ms,
        )


        job.additional_properties = d
        return job

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
