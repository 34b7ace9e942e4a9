from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

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
    """ 
        Attributes:
            counts (StatsCounts | Unset):
            paused (PauseFlags | Unset):
            tiers (StatsTiers | Unset):
            types (StatsTypes | Unset):
     """

    counts: StatsCounts | Unset = UNSET
    paused: PauseFlags | Unset = UNSET
    tiers: StatsTiers | Unset = UNSET
    types: StatsTypes | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.pause_flags import PauseFlags # noqa: PLC0415
        from ..models.stats_counts import StatsCounts # noqa: PLC0415
        from ..models.stats_tiers import StatsTiers # noqa: PLC0415
        from ..models.stats_types import StatsTypes # noqa: PLC0415
        counts: dict[str, Any] | Unset = UNSET
        if not isinstance(self.counts, Unset):
            counts = self.counts.to_dict()

        paused: dict[str, Any] | Unset = UNSET
        if not isinstance(self.paused, Unset):
            paused = self.paused.to_dict()

        tiers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tiers, Unset):
            tiers = self.tiers.to_dict()

        types: dict[str, Any] | Unset = UNSET
        if not isinstance(self.types, Unset):
            types = self.types.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if counts is not UNSET:
            field_dict["counts"] = counts
        if paused is not UNSET:
            field_dict["paused"] = paused
        if tiers is not UNSET:
            field_dict["tiers"] = tiers
        if types is not UNSET:
            field_dict["types"] = types

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pause_flags import PauseFlags # noqa: PLC0415
        from ..models.stats_counts import StatsCounts # noqa: PLC0415
        from ..models.stats_tiers import StatsTiers # noqa: PLC0415
        from ..models.stats_types import StatsTypes # noqa: PLC0415
        d = dict(src_dict)
        _counts = d.pop("counts", UNSET)
        counts: StatsCounts | Unset
        if isinstance(_counts,  Unset):
            counts = UNSET
        else:
            counts = StatsCounts.from_dict(_counts)




        _paused = d.pop("paused", UNSET)
        paused: PauseFlags | Unset
        if isinstance(_paused,  Unset):
            paused = UNSET
        else:
            paused = PauseFlags.from_dict(_paused)




        _tiers = d.pop("tiers", UNSET)
        tiers: StatsTiers | Unset
        if isinstance(_tiers,  Unset):
            tiers = UNSET
        else:
            tiers = StatsTiers.from_dict(_tiers)




        _types = d.pop("types", UNSET)
        types: StatsTypes | Unset
        if isinstance(_types,  Unset):
            types = UNSET
        else:
            types = StatsTypes.from_dict(_types)




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
