from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.batch_entry_outcome import BatchEntryOutcome
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.job import Job





T = TypeVar("T", bound="BatchEntry")



@_attrs_define
class BatchEntry:
    """ One job of the request, by its place in `jobs`. `enqueued`: it exists and its message is on
    the queue (or it waits scheduled, or its idempotency_key had it already). `unsent`: it exists
    but its message is not sent yet; the scheduler sends it (JOBQ_RESEND_AFTER_SECONDS).
    `not_created`: there is no such job; send the entry again. `unknown`: its write failed and
    could not be undone; it may exist (GET /jobs/{id}).

        Attributes:
            id (str): The job's id; an entry without an idempotency_key sent again gets a new one.
            index (int):
            outcome (BatchEntryOutcome):
            exists (bool | None | Unset): Null when not known (outcome unknown).
            job (Job | Unset): A job as stored in DynamoDB and returned by the API.
            reason (None | str | Unset):
     """

    id: str
    index: int
    outcome: BatchEntryOutcome
    exists: bool | None | Unset = UNSET
    job: Job | Unset = UNSET
    reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.job import Job # noqa: PLC0415
        id = self.id

        index = self.index

        outcome = self.outcome.value

        exists: bool | None | Unset
        if isinstance(self.exists, Unset):
            exists = UNSET
        else:
            exists = self.exists

        job: dict[str, Any] | Unset = UNSET
        if not isinstance(self.job, Unset):
            job = self.job.to_dict()

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "index": index,
            "outcome": outcome,
        })
        if exists is not UNSET:
            field_dict["exists"] = exists
        if job is not UNSET:
            field_dict["job"] = job
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job import Job # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        index = d.pop("index")

        outcome = BatchEntryOutcome(d.pop("outcome"))




        def _parse_exists(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        exists = _parse_exists(d.pop("exists", UNSET))


        _job = d.pop("job", UNSET)
        job: Job | Unset
        if isinstance(_job,  Unset):
            job = UNSET
        else:
            job = Job.from_dict(_job)




        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))


        batch_entry = cls(
            id=id,
            index=index,
            outcome=outcome,
            exists=exists,
            job=job,
            reason=reason,
        )


        batch_entry.additional_properties = d
        return batch_entry

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
