from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.pause_flags import PauseFlags
  from ..models.stats_counts import StatsCounts
  from ..models.stats_tiers import StatsTiers
  from ..models.stats_types import StatsTypes





T = TypeVar("T", bound="Stats")



@_attrs_define
class Stats:
    """ Jobs by status, runs by type, and each tier's queue.

        Attributes:
            counts (StatsCounts):
            paused (PauseFlags): The scopes paused right now, and who last paused or resumed each scope, when.
            tiers (StatsTiers):
            types (StatsTypes):
     """

    counts: StatsCounts
    paused: PauseFlags
    tiers: StatsTiers
    types: StatsTypes
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.pause_flags import PauseFlags # noqa: PLC0415
        from ..models.stats_counts import StatsCounts # noqa: PLC0415
        from ..models.stats_tiers import StatsTiers # noqa: PLC0415
        from ..models.stats_types import StatsTypes # noqa: PLC0415
        counts = self.counts.to_dict()

        paused = self.paused.to_dict()

        tiers = self.tiers.to_dict()

        types = self.types.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "counts": counts,
            "paused": paused,
            "tiers": tiers,
            "types": types,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pause_flags import PauseFlags # noqa: PLC0415
        from ..models.stats_counts import StatsCounts # noqa: PLC0415
        from ..models.stats_tiers import StatsTiers # noqa: PLC0415
        from ..models.stats_types import StatsTypes # noqa: PLC0415
        d = dict(src_dict)
        counts = StatsCounts.from_dict(d.pop("counts"))




        paused = PauseFlags.from_dict(d.pop("paused"))




        tiers = StatsTiers.from_dict(d.pop("tiers"))




        types = StatsTypes.from_dict(d.pop("types"))




        stats = cls(
            counts=counts,
            paused=paused,
            tiers=tiers,
            types=types,
        )


        stats.additional_properties = d
        return stats

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
