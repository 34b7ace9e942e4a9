from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.batch_entry import BatchEntry
  from ..models.batch_incomplete_error import BatchIncompleteError





T = TypeVar("T", bound="BatchIncomplete")



@_attrs_define
class BatchIncomplete:
    """ A batch not enqueued whole. `error.code` is `batch_not_created` (503: this request left no
    job behind) or `batch_incomplete` (207: some jobs exist); `error.message` says what to send
    again.

        Attributes:
            batch_id (str):
            entries (list[BatchEntry]):
            error (BatchIncompleteError):
     """

    batch_id: str
    entries: list[BatchEntry]
    error: BatchIncompleteError
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_entry import BatchEntry # noqa: PLC0415
        from ..models.batch_incomplete_error import BatchIncompleteError # noqa: PLC0415
        batch_id = self.batch_id

        entries = []
        for entries_item_data in self.entries:
            entries_item = entries_item_data.to_dict()
            entries.append(entries_item)



        error = self.error.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "batch_id": batch_id,
            "entries": entries,
            "error": error,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_entry import BatchEntry # noqa: PLC0415
        from ..models.batch_incomplete_error import BatchIncompleteError # noqa: PLC0415
        d = dict(src_dict)
        batch_id = d.pop("batch_id")

        entries = []
        _entries = d.pop("entries")
        for entries_item_data in (_entries):
            entries_item = BatchEntry.from_dict(entries_item_data)



            entries.append(entries_item)


        error = BatchIncompleteError.from_dict(d.pop("error"))




        batch_incomplete = cls(
            batch_id=batch_id,
            entries=entries,
            error=error,
        )


        batch_incomplete.additional_properties = d
        return batch_incomplete

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
