from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.job_status import JobStatus
from ..models.job_tier import JobTier
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.job_error_type_0 import JobErrorType0
  from ..models.job_next_item import JobNextItem





T = TypeVar("T", bound="Job")



@_attrs_define
class Job:
    """ 
        Attributes:
            attempts (int | Unset):
            batch_id (None | str | Unset):
            completed_at (None | str | Unset):
            created_at (datetime.datetime | Unset):
            current_step (None | str | Unset):
            duration_ms (int | None | Unset):
            error (JobErrorType0 | None | Unset):
            generation (int | Unset):
            github_workflow_run_id (None | str | Unset):
            id (str | Unset):
            idempotency_key (None | str | Unset):
            lease_until (None | str | Unset):
            max_attempts (int | Unset):
            message (None | str | Unset):
            next_ (list[JobNextItem] | Unset):
            payload (Any | Unset):
            priority (int | Unset):
            progress (int | Unset):
            result (Any | Unset):
            run_at (None | str | Unset):
            started_at (None | str | Unset):
            status (JobStatus | Unset):
            tier (JobTier | Unset):
            timeout_seconds (int | Unset):
            type_ (str | Unset):
            wait_ms (int | None | Unset):
     """

    attempts: int | Unset = UNSET
    batch_id: None | str | Unset = UNSET
    completed_at: None | str | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    current_step: None | str | Unset = UNSET
    duration_ms: int | None | Unset = UNSET
    error: JobErrorType0 | None | Unset = UNSET
    generation: int | Unset = UNSET
    github_workflow_run_id: None | str | Unset = UNSET
    id: str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    lease_until: None | str | Unset = UNSET
    max_attempts: int | Unset = UNSET
    message: None | str | Unset = UNSET
    next_: list[JobNextItem] | Unset = UNSET
    payload: Any | Unset = UNSET
    priority: int | Unset = UNSET
    progress: int | Unset = UNSET
    result: Any | Unset = UNSET
    run_at: None | str | Unset = UNSET
    started_at: None | str | Unset = UNSET
    status: JobStatus | Unset = UNSET
    tier: JobTier | Unset = UNSET
    timeout_seconds: int | Unset = UNSET
    type_: str | Unset = UNSET
    wait_ms: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.job_error_type_0 import JobErrorType0 # noqa: PLC0415
        from ..models.job_next_item import JobNextItem # noqa: PLC0415
        attempts = self.attempts

        batch_id: None | str | Unset
        if isinstance(self.batch_id, Unset):
            batch_id = UNSET
        else:
            batch_id = self.batch_id

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        else:
            completed_at = self.completed_at

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

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
        elif isinstance(self.error, JobErrorType0):
            error = self.error.to_dict()
        else:
            error = self.error

        generation = self.generation

        github_workflow_run_id: None | str | Unset
        if isinstance(self.github_workflow_run_id, Unset):
            github_workflow_run_id = UNSET
        else:
            github_workflow_run_id = self.github_workflow_run_id

        id = self.id

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        lease_until: None | str | Unset
        if isinstance(self.lease_until, Unset):
            lease_until = UNSET
        else:
            lease_until = self.lease_until

        max_attempts = self.max_attempts

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



        payload = self.payload

        priority = self.priority

        progress = self.progress

        result = self.result

        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        else:
            run_at = self.run_at

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        else:
            started_at = self.started_at

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value


        tier: str | Unset = UNSET
        if not isinstance(self.tier, Unset):
            tier = self.tier.value


        timeout_seconds = self.timeout_seconds

        type_ = self.type_

        wait_ms: int | None | Unset
        if isinstance(self.wait_ms, Unset):
            wait_ms = UNSET
        else:
            wait_ms = self.wait_ms


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if attempts is not UNSET:
            field_dict["attempts"] = attempts
        if batch_id is not UNSET:
            field_dict["batch_id"] = batch_id
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if current_step is not UNSET:
            field_dict["current_step"] = current_step
        if duration_ms is not UNSET:
            field_dict["duration_ms"] = duration_ms
        if error is not UNSET:
            field_dict["error"] = error
        if generation is not UNSET:
            field_dict["generation"] = generation
        if github_workflow_run_id is not UNSET:
            field_dict["github_workflow_run_id"] = github_workflow_run_id
        if id is not UNSET:
            field_dict["id"] = id
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if lease_until is not UNSET:
            field_dict["lease_until"] = lease_until
        if max_attempts is not UNSET:
            field_dict["max_attempts"] = max_attempts
        if message is not UNSET:
            field_dict["message"] = message
        if next_ is not UNSET:
            field_dict["next"] = next_
        if payload is not UNSET:
            field_dict["payload"] = payload
        if priority is not UNSET:
            field_dict["priority"] = priority
        if progress is not UNSET:
            field_dict["progress"] = progress
        if result is not UNSET:
            field_dict["result"] = result
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if status is not UNSET:
            field_dict["status"] = status
        if tier is not UNSET:
            field_dict["tier"] = tier
        if timeout_seconds is not UNSET:
            field_dict["timeout_seconds"] = timeout_seconds
        if type_ is not UNSET:
            field_dict["type"] = type_
        if wait_ms is not UNSET:
            field_dict["wait_ms"] = wait_ms

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_error_type_0 import JobErrorType0 # noqa: PLC0415
        from ..models.job_next_item import JobNextItem # noqa: PLC0415
        d = dict(src_dict)
        attempts = d.pop("attempts", UNSET)

        def _parse_batch_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        batch_id = _parse_batch_id(d.pop("batch_id", UNSET))


        def _parse_completed_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        completed_at = _parse_completed_at(d.pop("completed_at", UNSET))


        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at,  Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)




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


        def _parse_error(data: object) -> JobErrorType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = JobErrorType0.from_dict(data)



                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobErrorType0 | None | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        generation = d.pop("generation", UNSET)

        def _parse_github_workflow_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        github_workflow_run_id = _parse_github_workflow_run_id(d.pop("github_workflow_run_id", UNSET))


        id = d.pop("id", UNSET)

        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotency_key", UNSET))


        def _parse_lease_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        lease_until = _parse_lease_until(d.pop("lease_until", UNSET))


        max_attempts = d.pop("max_attempts", UNSET)

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))


        _next_ = d.pop("next", UNSET)
        next_: list[JobNextItem] | Unset = UNSET
        if _next_ is not UNSET:
            next_ = []
            for next_item_data in _next_:
                next_item = JobNextItem.from_dict(next_item_data)



                next_.append(next_item)


        payload = d.pop("payload", UNSET)

        priority = d.pop("priority", UNSET)

        progress = d.pop("progress", UNSET)

        result = d.pop("result", UNSET)

        def _parse_run_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_at = _parse_run_at(d.pop("run_at", UNSET))


        def _parse_started_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))


        _status = d.pop("status", UNSET)
        status: JobStatus | Unset
        if isinstance(_status,  Unset):
            status = UNSET
        else:
            status = JobStatus(_status)




        _tier = d.pop("tier", UNSET)
        tier: JobTier | Unset
        if isinstance(_tier,  Unset):
            tier = UNSET
        else:
            tier = JobTier(_tier)




        timeout_seconds = d.pop("timeout_seconds", UNSET)

        type_ = d.pop("type", UNSET)

        def _parse_wait_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        wait_ms = _parse_wait_ms(d.pop("wait_ms", UNSET))


        job = cls(
            attempts=attempts,
            batch_id=batch_id,
            completed_at=completed_at,
            created_at=created_at,
            current_step=current_step,
            duration_ms=duration_ms,
            error=error,
            generation=generation,
            github_workflow_run_id=github_workflow_run_id,
            id=id,
            idempotency_key=idempotency_key,
            lease_until=lease_until,
            max_attempts=max_attempts,
            message=message,
            next_=next_,
            payload=payload,
            priority=priority,
            progress=progress,
            result=result,
            run_at=run_at,
            started_at=started_at,
            status=status,
            tier=tier,
            timeout_seconds=timeout_seconds,
            type_=type_,
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
