from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.health_status import HealthStatus
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.health_dlqs import HealthDlqs
  from ..models.health_queues import HealthQueues





T = TypeVar("T", bound="Health")



@_attrs_define
class Health:
    """ The deployment's resources, each found answering.

        Attributes:
            dlqs (HealthDlqs): Each tier's dead-letter queue, by name.
            queues (HealthQueues): Each tier's queue, by name.
            status (HealthStatus): A health answer is only ever `ok`: a dependency that does not answer makes it a 503.
            table (str):
            version (str):
            bucket (None | str | Unset):
     """

    dlqs: HealthDlqs
    queues: HealthQueues
    status: HealthStatus
    table: str
    version: str
    bucket: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.health_dlqs import HealthDlqs # noqa: PLC0415
        from ..models.health_queues import HealthQueues # noqa: PLC0415
        dlqs = self.dlqs.to_dict()

        queues = self.queues.to_dict()

        status = self.status.value

        table = self.table

        version = self.version

        bucket: None | str | Unset
        if isinstance(self.bucket, Unset):
            bucket = UNSET
        else:
            bucket = self.bucket


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "dlqs": dlqs,
            "queues": queues,
            "status": status,
            "table": table,
            "version": version,
        })
        if bucket is not UNSET:
            field_dict["bucket"] = bucket

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.health_dlqs import HealthDlqs # noqa: PLC0415
        from ..models.health_queues import HealthQueues # noqa: PLC0415
        d = dict(src_dict)
        dlqs = HealthDlqs.from_dict(d.pop("dlqs"))




        queues = HealthQueues.from_dict(d.pop("queues"))




        status = HealthStatus(d.pop("status"))




        table = d.pop("table")

        version = d.pop("version")

        def _parse_bucket(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        bucket = _parse_bucket(d.pop("bucket", UNSET))


        health = cls(
            dlqs=dlqs,
            queues=queues,
            status=status,
            table=table,
            version=version,
            bucket=bucket,
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
