from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.batch_summary_counts import BatchSummaryCounts





T = TypeVar("T", bound="BatchSummary")



@_attrs_define
class BatchSummary:
    """ 
        Attributes:
            batch_id (str | Unset):
            counts (BatchSummaryCounts | Unset):
            done (bool | Unset):
            finished_at (None | str | Unset):
            progress (int | Unset):
            started_at (None | str | Unset):
            total (int | Unset):
     """

    batch_id: str | Unset = UNSET
    counts: BatchSummaryCounts | Unset = UNSET
    done: bool | Unset = UNSET
    finished_at: None | str | Unset = UNSET
    progress: int | Unset = UNSET
    started_at: None | str | Unset = UNSET
    total: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_summary_counts import BatchSummaryCounts # noqa: PLC0415
        batch_id = self.batch_id

        counts: dict[str, Any] | Unset = UNSET
        if not isinstance(self.counts, Unset):
            counts = self.counts.to_dict()

        done = self.done

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        else:
            finished_at = self.finished_at

        progress = self.progress

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        else:
            started_at = self.started_at

        total = self.total


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if batch_id is not UNSET:
            field_dict["batch_id"] = batch_id
        if counts is not UNSET:
            field_dict["counts"] = counts
        if done is not UNSET:
            field_dict["done"] = done
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if progress is not UNSET:
            field_dict["progress"] = progress
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if total is not UNSET:
            field_dict["total"] = total

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_summary_counts import BatchSummaryCounts # noqa: PLC0415
        d = dict(src_dict)
        batch_id = d.pop("batch_id", UNSET)

        _counts = d.pop("counts", UNSET)
        counts: BatchSummaryCounts | Unset
        if isinstance(_counts,  Unset):
            counts = UNSET
        else:
            counts = BatchSummaryCounts.from_dict(_counts)




        done = d.pop("done", UNSET)

        def _parse_finished_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))


        progress = d.pop("progress", UNSET)

        def _parse_started_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))


        total = d.pop("total", UNSET)

        batch_summary = cls(
            batch_id=batch_id,
            counts=counts,
            done=done,
            finished_at=finished_at,
            progress=progress,
            started_at=started_at,
            total=total,
        )


        batch_summary.additional_properties = d
        return batch_summary

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
