from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="InputSleepInput")



@_attrs_define
class InputSleepInput:
    """ 
        Attributes:
            seconds (float | Unset): Total time asleep. Default: 1.0.
            steps (int | Unset): Progress reports, evenly spread. Default: 10.
     """

    seconds: float | Unset = 1.0
    steps: int | Unset = 10





    def to_dict(self) -> dict[str, Any]:
        seconds = self.seconds

        steps = self.steps


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if seconds is not UNSET:
            field_dict["seconds"] = seconds
        if steps is not UNSET:
            field_dict["steps"] = steps

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        seconds = d.pop("seconds", UNSET)

        steps = d.pop("steps", UNSET)

        input_sleep_input = cls(
            seconds=seconds,
            steps=steps,
        )

        return input_sleep_input

