from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.pause_flags_changes import PauseFlagsChanges





T = TypeVar("T", bound="PauseFlags")



@_attrs_define
class PauseFlags:
    """ The scopes paused right now, and who last paused or resumed each scope, when.

        Attributes:
            paused (list[str]):
            changes (PauseFlagsChanges | Unset): By scope: its last pause or resume.
     """

    paused: list[str]
    changes: PauseFlagsChanges | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.pause_flags_changes import PauseFlagsChanges # noqa: PLC0415
        paused = self.paused



        changes: dict[str, Any] | Unset = UNSET
        if not isinstance(self.changes, Unset):
            changes = self.changes.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "paused": paused,
        })
        if changes is not UNSET:
            field_dict["changes"] = changes

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pause_flags_changes import PauseFlagsChanges # noqa: PLC0415
        d = dict(src_dict)
        paused = cast(list[str], d.pop("paused"))


        _changes = d.pop("changes", UNSET)
        changes: PauseFlagsChanges | Unset
        if isinstance(_changes,  Unset):
            changes = UNSET
        else:
            changes = PauseFlagsChanges.from_dict(_changes)




        pause_flags = cls(
            paused=paused,
            changes=changes,
        )


        pause_flags.additional_properties = d
        return pause_flags

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
