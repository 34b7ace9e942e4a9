from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="TypeSummary")



@_attrs_define
class TypeSummary:
    """ One job type's runs, counted since the deployment began.

        Attributes:
            completed (int):
            failed (int):
            partial (int):
            processing_ms (int):
            retried (int):
            runs (int): Handler runs that ended, and their summed processing and wait times (for rates and
                averages over any window, as Prometheus computes them).
            wait_ms (int):
            avg_processing_ms (float | None | Unset):
            avg_wait_ms (float | None | Unset):
            success_rate (float | None | Unset):
     """

    completed: int
    failed: int
    partial: int
    processing_ms: int
    retried: int
    runs: int
    wait_ms: int
    avg_processing_ms: float | None | Unset = UNSET
    avg_wait_ms: float | None | Unset = UNSET
    success_rate: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        completed = self.completed

        failed = self.failed

        partial = self.partial

        processing_ms = self.processing_ms

        retried = self.retried

        runs = self.runs

        wait_ms = self.wait_ms

        avg_processing_ms: float | None | Unset
        if isinstance(self.avg_processing_ms, Unset):
            avg_processing_ms = UNSET
        else:
            avg_processing_ms = self.avg_processing_ms

        avg_wait_ms: float | None | Unset
        if isinstance(self.avg_wait_ms, Unset):
            avg_wait_ms = UNSET
        else:
            avg_wait_ms = self.avg_wait_ms

        success_rate: float | None | Unset
        if isinstance(self.success_rate, Unset):
            success_rate = UNSET
        else:
            success_rate = self.success_rate


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "completed": completed,
            "failed": failed,
            "partial": partial,
            "processing_ms": processing_ms,
            "retried": retried,
            "runs": runs,
            "wait_ms": wait_ms,
        })
        if avg_processing_ms is not UNSET:
            field_dict["avg_processing_ms"] = avg_processing_ms
        if avg_wait_ms is not UNSET:
            field_dict["avg_wait_ms"] = avg_wait_ms
        if success_rate is not UNSET:
            field_dict["success_rate"] = success_rate

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        completed = d.pop("completed")

        failed = d.pop("failed")

        partial = d.pop("partial")

        processing_ms = d.pop("processing_ms")

        retried = d.pop("retried")

        runs = d.pop("runs")

        wait_ms = d.pop("wait_ms")

        def _parse_avg_processing_ms(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        avg_processing_ms = _parse_avg_processing_ms(d.pop("avg_processing_ms", UNSET))


        def _parse_avg_wait_ms(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        avg_wait_ms = _parse_avg_wait_ms(d.pop("avg_wait_ms", UNSET))


        def _parse_success_rate(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        success_rate = _parse_success_rate(d.pop("success_rate", UNSET))


        type_summary = cls(
            completed=completed,
            failed=failed,
            partial=partial,
            processing_ms=processing_ms,
            retried=retried,
            runs=runs,
            wait_ms=wait_ms,
            avg_processing_ms=avg_processing_ms,
            avg_wait_ms=avg_wait_ms,
            success_rate=success_rate,
        )


        type_summary.additional_properties = d
        return type_summary

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
