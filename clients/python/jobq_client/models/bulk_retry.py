from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.retriable_status import RetriableStatus
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="BulkRetry")



@_attrs_define
class BulkRetry:
    """ `POST /jobs/retry`: every job of a status (and a type) queued again.

        Attributes:
            status (RetriableStatus): The statuses a retry starts from.
            type_ (None | str | Unset):
     """

    status: RetriableStatus
    type_: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "status": status,
        })
        if type_ is not UNSET:
            field_dict["type"] = type_

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = RetriableStatus(d.pop("status"))




        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))


        bulk_retry = cls(
            status=status,
            type_=type_,
        )

        return bulk_retry

