from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="PayloadFail")



@_attrs_define
class PayloadFail:
    """ 
        Attributes:
            message (str | Unset):  Default: 'failed on purpose'.
            panic (bool | Unset): Panic instead of returning an error: a bug in a handler (the worker contains it). Default:
                False.
            retryable (bool | Unset):  Default: True.
            seconds (float | Unset): Work this long (no progress reported) before the outcome: a long step. Default: 0.0.
            times (int | None | Unset): Fail the first `times` attempts, then complete; absent: always fail.
            until (datetime.datetime | None | Unset): Fail while the clock is before this time, then complete: a dependency
                that comes back,
                so a failed job can be retried by hand and succeed.
     """

    message: str | Unset = 'failed on purpose'
    panic: bool | Unset = False
    retryable: bool | Unset = True
    seconds: float | Unset = 0.0
    times: int | None | Unset = UNSET
    until: datetime.datetime | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        message = self.message

        panic = self.panic

        retryable = self.retryable

        seconds = self.seconds

        times: int | None | Unset
        if isinstance(self.times, Unset):
            times = UNSET
        else:
            times = self.times

        until: None | str | Unset
        if isinstance(self.until, Unset):
            until = UNSET
        elif isinstance(self.until, datetime.datetime):
            until = self.until.isoformat()
        else:
            until = self.until


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if message is not UNSET:
            field_dict["message"] = message
        if panic is not UNSET:
            field_dict["panic"] = panic
        if retryable is not UNSET:
            field_dict["retryable"] = retryable
        if seconds is not UNSET:
            field_dict["seconds"] = seconds
        if times is not UNSET:
            field_dict["times"] = times
        if until is not UNSET:
            field_dict["until"] = until

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        message = d.pop("message", UNSET)

        panic = d.pop("panic", UNSET)

        retryable = d.pop("retryable", UNSET)

        seconds = d.pop("seconds", UNSET)

        def _parse_times(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        times = _parse_times(d.pop("times", UNSET))


        def _parse_until(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                until_type_0 = datetime.datetime.fromisoformat(data)



                return until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        until = _parse_until(d.pop("until", UNSET))


        payload_fail = cls(
            message=message,
            panic=panic,
            retryable=retryable,
            seconds=seconds,
            times=times,
            until=until,
        )

        return payload_fail

