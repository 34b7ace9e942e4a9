from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="Scope")



@_attrs_define
class Scope:
    """ `POST /pause`, `POST /resume`.

        Attributes:
            scope (str): all, queue:<high|normal|low> or type:<job type>
     """

    scope: str





    def to_dict(self) -> dict[str, Any]:
        scope = self.scope


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "scope": scope,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        scope = d.pop("scope")

        scope = cls(
            scope=scope,
        )

        return scope

