from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.mark import Mark





T = TypeVar("T", bound="Audit")



@_attrs_define
class Audit:
    """ A job's audit trail: who enqueued it, and the last cancel, retry and report (`PATCH`).

        Attributes:
            cancelled (Mark | None | Unset):
            created_by (None | str | Unset): Who enqueued it: its owner, an admin enqueuing for the owner, or one of jobq's
                parts (a
                pipeline's step names who enqueued the pipeline). None on a job from before audits.
            patched (Mark | None | Unset):
            retried (Mark | None | Unset):
     """

    cancelled: Mark | None | Unset = UNSET
    created_by: None | str | Unset = UNSET
    patched: Mark | None | Unset = UNSET
    retried: Mark | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.mark import Mark # noqa: PLC0415
        cancelled: dict[str, Any] | None | Unset
        if isinstance(self.cancelled, Unset):
            cancelled = UNSET
        elif isinstance(self.cancelled, Mark):
            cancelled = self.cancelled.to_dict()
        else:
            cancelled = self.cancelled

        created_by: None | str | Unset
        if isinstance(self.created_by, Unset):
            created_by = UNSET
        else:
            created_by = self.created_by

        patched: dict[str, Any] | None | Unset
        if isinstance(self.patched, Unset):
            patched = UNSET
        elif isinstance(self.patched, Mark):
            patched = self.patched.to_dict()
        else:
            patched = self.patched

        retried: dict[str, Any] | None | Unset
        if isinstance(self.retried, Unset):
            retried = UNSET
        elif isinstance(self.retried, Mark):
            retried = self.retried.to_dict()
        else:
            retried = self.retried


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if cancelled is not UNSET:
            field_dict["cancelled"] = cancelled
        if created_by is not UNSET:
            field_dict["created_by"] = created_by
        if patched is not UNSET:
            field_dict["patched"] = patched
        if retried is not UNSET:
            field_dict["retried"] = retried

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.mark import Mark # noqa: PLC0415
        d = dict(src_dict)
        def _parse_cancelled(data: object) -> Mark | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                cancelled_type_0 = Mark.from_dict(data)



                return cancelled_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Mark | None | Unset, data)

        cancelled = _parse_cancelled(d.pop("cancelled", UNSET))


        def _parse_created_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        created_by = _parse_created_by(d.pop("created_by", UNSET))


        def _parse_patched(data: object) -> Mark | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                patched_type_0 = Mark.from_dict(data)



                return patched_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Mark | None | Unset, data)

        patched = _parse_patched(d.pop("patched", UNSET))


        def _parse_retried(data: object) -> Mark | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                retried_type_0 = Mark.from_dict(data)



                return retried_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Mark | None | Unset, data)

        retried = _parse_retried(d.pop("retried", UNSET))


        audit = cls(
            cancelled=cancelled,
            created_by=created_by,
            patched=patched,
            retried=retried,
        )


        audit.additional_properties = d
        return audit

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
