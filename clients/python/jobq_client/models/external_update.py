from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.reported_status import ReportedStatus
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.job_failure import JobFailure





T = TypeVar("T", bound="ExternalUpdate")



@_attrs_define
class ExternalUpdate:
    """ `PATCH /jobs/{id}`: what an external executor reports. Fields may also be null, which is the
    same as leaving them out.

        Attributes:
            current_step (None | str | Unset):
            error (JobFailure | None | str | Unset):
            github_workflow_run_id (int | None | str | Unset):
            message (None | str | Unset):
            progress (int | None | Unset):
            result (Any | Unset):
            status (None | ReportedStatus | Unset):
     """

    current_step: None | str | Unset = UNSET
    error: JobFailure | None | str | Unset = UNSET
    github_workflow_run_id: int | None | str | Unset = UNSET
    message: None | str | Unset = UNSET
    progress: int | None | Unset = UNSET
    result: Any | Unset = UNSET
    status: None | ReportedStatus | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.job_failure import JobFailure # noqa: PLC0415
        current_step: None | str | Unset
        if isinstance(self.current_step, Unset):
            current_step = UNSET
        else:
            current_step = self.current_step

        error: dict[str, Any] | None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, JobFailure):
            error = self.error.to_dict()
        else:
            error = self.error

        github_workflow_run_id: int | None | str | Unset
        if isinstance(self.github_workflow_run_id, Unset):
            github_workflow_run_id = UNSET
        else:
            github_workflow_run_id = self.github_workflow_run_id

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        progress: int | None | Unset
        if isinstance(self.progress, Unset):
            progress = UNSET
        else:
            progress = self.progress

        result = self.result

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        elif isinstance(self.status, ReportedStatus):
            status = self.status.value
        else:
            status = self.status


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if current_step is not UNSET:
            field_dict["current_step"] = current_step
        if error is not UNSET:
            field_dict["error"] = error
        if github_workflow_run_id is not UNSET:
            field_dict["github_workflow_run_id"] = github_workflow_run_id
        if message is not UNSET:
            field_dict["message"] = message
        if progress is not UNSET:
            field_dict["progress"] = progress
        if result is not UNSET:
            field_dict["result"] = result
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_failure import JobFailure # noqa: PLC0415
        d = dict(src_dict)
        def _parse_current_step(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        current_step = _parse_current_step(d.pop("current_step", UNSET))


        def _parse_error(data: object) -> JobFailure | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_reported_error_type_1 = JobFailure.from_dict(data)



                return componentsschemas_reported_error_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobFailure | None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        def _parse_github_workflow_run_id(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        github_workflow_run_id = _parse_github_workflow_run_id(d.pop("github_workflow_run_id", UNSET))


        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))


        def _parse_progress(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        progress = _parse_progress(d.pop("progress", UNSET))


        result = d.pop("result", UNSET)

        def _parse_status(data: object) -> None | ReportedStatus | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_0 = ReportedStatus(data)



                return status_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ReportedStatus | Unset, data)

        status = _parse_status(d.pop("status", UNSET))


        external_update = cls(
            current_step=current_step,
            error=error,
            github_workflow_run_id=github_workflow_run_id,
            message=message,
            progress=progress,
            result=result,
            status=status,
        )

        return external_update

