from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.new_job import NewJob





T = TypeVar("T", bound="NewBatch")



@_attrs_define
class NewBatch:
    """ 
        Attributes:
            jobs (list[NewJob]):
            batch_id (None | str | Unset):
     """

    jobs: list[NewJob]
    batch_id: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.new_job import NewJob # noqa: PLC0415
        jobs = []
        for jobs_item_data in self.jobs:
            jobs_item = jobs_item_data.to_dict()
            jobs.append(jobs_item)



        batch_id: None | str | Unset
        if isinstance(self.batch_id, Unset):
            batch_id = UNSET
        else:
            batch_id = self.batch_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "jobs": jobs,
        })
        if batch_id is not UNSET:
            field_dict["batch_id"] = batch_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.new_job import NewJob # noqa: PLC0415
        d = dict(src_dict)
        jobs = []
        _jobs = d.pop("jobs")
        for jobs_item_data in (_jobs):
            jobs_item = NewJob.from_dict(jobs_item_data)



            jobs.append(jobs_item)


        def _parse_batch_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        batch_id = _parse_batch_id(d.pop("batch_id", UNSET))


        new_batch = cls(
            jobs=jobs,
            batch_id=batch_id,
        )

        return new_batch

