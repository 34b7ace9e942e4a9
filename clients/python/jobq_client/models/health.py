from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast

if TYPE_CHECKING:
  from ..models.health_dlqs import HealthDlqs
  from ..models.health_queues import HealthQueues





T = TypeVar("T", bound="Health")



@_attrs_define
class Health:
    """ 
        Attributes:
            bucket (None | str | Unset):
            dlqs (HealthDlqs | Unset):
            queues (HealthQueues | Unset):
            status (Literal['ok'] | Unset):
            table (str | Unset):
            version (str | Unset):
     """

    bucket: None | str | Unset = UNSET
    dlqs: HealthDlqs | Unset = UNSET
    queues: HealthQueues | Unset = UNSET
    status: Literal['ok'] | Unset = UNSET
    table: str | Unset = UNSET
    version: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.health_dlqs import HealthDlqs # noqa: PLC0415
        from ..models.health_queues import HealthQueues # noqa: PLC0415
        bucket: None | str | Unset
        if isinstance(self.bucket, Unset):
            bucket = UNSET
        else:
            bucket = self.bucket

        dlqs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.dlqs, Unset):
            dlqs = self.dlqs.to_dict()

        queues: dict[str, Any] | Unset = UNSET
        if not isinstance(self.queues, Unset):
            queues = self.queues.to_dict()

        status = self.status

        table = self.table

        version = self.version


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if bucket is not UNSET:
            field_dict["bucket"] = bucket
        if dlqs is not UNSET:
            field_dict["dlqs"] = dlqs
        if queues is not UNSET:
            field_dict["queues"] = queues
        if status is not UNSET:
            field_dict["status"] = status
        if table is not UNSET:
            field_dict["table"] = table
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.health_dlqs import HealthDlqs # noqa: PLC0415
        from ..models.health_queues import HealthQueues # noqa: PLC0415
        d = dict(src_dict)
        def _parse_bucket(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        bucket = _parse_bucket(d.pop("bucket", UNSET))


        _dlqs = d.pop("dlqs", UNSET)
        dlqs: HealthDlqs | Unset
        if isinstance(_dlqs,  Unset):
            dlqs = UNSET
        else:
            dlqs = HealthDlqs.from_dict(_dlqs)




        _queues = d.pop("queues", UNSET)
        queues: HealthQueues | Unset
        if isinstance(_queues,  Unset):
            queues = UNSET
        else:
            queues = HealthQueues.from_dict(_queues)




        status = cast(Literal['ok'] | Unset , d.pop("status", UNSET))
        if status != 'ok'and not isinstance(status, Unset):
            raise ValueError(f"status must match const 'ok', got '{status}'")

        table = d.pop("table", UNSET)

        version = d.pop("version", UNSET)

        health = cls(
            bucket=bucket,
            dlqs=dlqs,
            queues=queues,
            status=status,
            table=table,
            version=version,
        )


        health.additional_properties = d
        return health

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
