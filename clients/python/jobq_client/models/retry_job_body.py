from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.priority_tier import PriorityTier
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="RetryJobBody")



@_attrs_define
class RetryJobBody:
    """ `POST /jobs/{id}/retry`: the body may be left out, or null.

        Attributes:
            priority (int | None | PriorityTier | Unset):
     """

    priority: int | None | PriorityTier | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        priority: int | None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityTier):
            priority = self.priority.value
        else:
            priority = self.priority


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if priority is not UNSET:
            field_dict["priority"] = priority

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_priority(data: object) -> int | None | PriorityTier | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_priority_type_1 = PriorityTier(data)



                return componentsschemas_priority_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | None | PriorityTier | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))


        retry_job_body = cls(
            priority=priority,
        )

        return retry_job_body

