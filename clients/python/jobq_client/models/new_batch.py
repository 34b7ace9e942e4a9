from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.new_job_echo import NewJobEcho
  from ..models.new_job_fail import NewJobFail
  from ..models.new_job_noop import NewJobNoop
  from ..models.new_job_sleep import NewJobSleep





T = TypeVar("T", bound="NewBatch")



@_attrs_define
class NewBatch:
    """ `POST /jobs/batch`: up to 100 jobs, enqueued all or none.

        Attributes:
            jobs (list[NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep]):
            batch_id (None | str | Unset): The batch's id (made up when left out); its jobs carry none of their own.
     """

    jobs: list[NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep]
    batch_id: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.new_job_echo import NewJobEcho # noqa: PLC0415
        from ..models.new_job_fail import NewJobFail # noqa: PLC0415
        from ..models.new_job_noop import NewJobNoop # noqa: PLC0415
        from ..models.new_job_sleep import NewJobSleep # noqa: PLC0415
        jobs = []
        for jobs_item_data in self.jobs:
            jobs_item: dict[str, Any]
            if isinstance(jobs_item_data, NewJobEcho):
                jobs_item = jobs_item_data.to_dict()
            elif isinstance(jobs_item_data, NewJobFail):
                jobs_item = jobs_item_data.to_dict()
            elif isinstance(jobs_item_data, NewJobNoop):
                jobs_item = jobs_item_data.to_dict()
            else:
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
        from ..models.new_job_echo import NewJobEcho # noqa: PLC0415
        from ..models.new_job_fail import NewJobFail # noqa: PLC0415
        from ..models.new_job_noop import NewJobNoop # noqa: PLC0415
        from ..models.new_job_sleep import NewJobSleep # noqa: PLC0415
        d = dict(src_dict)
        jobs = []
        _jobs = d.pop("jobs")
        for jobs_item_data in (_jobs):
            def _parse_jobs_item(data: object) -> NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_new_job_new_job_echo = NewJobEcho.from_dict(data)



                    return componentsschemas_new_job_new_job_echo
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_new_job_new_job_fail = NewJobFail.from_dict(data)



                    return componentsschemas_new_job_new_job_fail
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_new_job_new_job_noop = NewJobNoop.from_dict(data)



                    return componentsschemas_new_job_new_job_noop
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_new_job_new_job_sleep = NewJobSleep.from_dict(data)



                return componentsschemas_new_job_new_job_sleep

            jobs_item = _parse_jobs_item(jobs_item_data)

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

