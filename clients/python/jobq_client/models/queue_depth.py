from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="QueueDepth")



@_attrs_define
class QueueDepth:
    """ Approximate message counts of one queue.

        Attributes:
            delayed (int):
            in_flight (int):
            visible (int):
     """

    delayed: int
    in_flight: int
    visible: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        delayed = self.delayed

        in_flight = self.in_flight

        visible = self.visible


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "delayed": delayed,
            "in_flight": in_flight,
            "visible": visible,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        delayed = d.pop("delayed")

        in_flight = d.pop("in_flight")

        visible = d.pop("visible")

        queue_depth = cls(
            delayed=delayed,
            in_flight=in_flight,
            visible=visible,
        )


        queue_depth.additional_properties = d
        return queue_depth

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
