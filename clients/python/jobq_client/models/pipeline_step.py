from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="PipelineStep")



@_attrs_define
class PipelineStep:
    """ A later step of the job's pipeline, enqueued when the steps before it completed.

        Attributes:
            type_ (str):
            batch_id (None | str | Unset):
            github_workflow_run_id (None | str | Unset):
            group (None | str | Unset):
            idempotency_key (None | str | Unset):
            max_attempts (int | None | Unset):
            next_ (list[PipelineStep] | Unset):
            owner (None | str | Unset): Set from the caller (an admin may name another owner).
            payload (Any | Unset):
            priority (int | Unset): Written as the number alone.
            run_at (datetime.datetime | None | Unset):
            timeout_seconds (int | None | Unset):
     """

    type_: str
    batch_id: None | str | Unset = UNSET
    github_workflow_run_id: None | str | Unset = UNSET
    group: None | str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    max_attempts: int | None | Unset = UNSET
    next_: list[PipelineStep] | Unset = UNSET
    owner: None | str | Unset = UNSET
    payload: Any | Unset = UNSET
    priority: int | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    timeout_seconds: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        batch_id: None | str | Unset
        if isinstance(self.batch_id, Unset):
            batch_id = UNSET
        else:
            batch_id = self.batch_id

        github_workflow_run_id: None | str | Unset
        if isinstance(self.github_workflow_run_id, Unset):
            github_workflow_run_id = UNSET
        else:
            github_workflow_run_id = self.github_workflow_run_id

        group: None | str | Unset
        if isinstance(self.group, Unset):
            group = UNSET
        else:
            group = self.group

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        max_attempts: int | None | Unset
        if isinstance(self.max_attempts, Unset):
            max_attempts = UNSET
        else:
            max_attempts = self.max_attempts

        next_: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.next_, Unset):
            next_ = []
            for next_item_data in self.next_:
                next_item = next_item_data.to_dict()
                next_.append(next_item)



        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        payload = self.payload

        priority = self.priority

        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        elif isinstance(self.run_at, datetime.datetime):
            run_at = self.run_at.isoformat()
        else:
            run_at = self.run_at

        timeout_seconds: int | None | Unset
        if isinstance(self.timeout_seconds, Unset):
            timeout_seconds = UNSET
        else:
            timeout_seconds = self.timeout_seconds


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "type": type_,
        })
        if batch_id is not UNSET:
            field_dict["batch_id"] = batch_id
        if github_workflow_run_id is not UNSET:
            field_dict["github_workflow_run_id"] = github_workflow_run_id
        if group is not UNSET:
            field_dict["group"] = group
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if max_attempts is not UNSET:
            field_dict["max_attempts"] = max_attempts
        if next_ is not UNSET:
            field_dict["next"] = next_
        if owner is not UNSET:
            field_dict["owner"] = owner
        if payload is not UNSET:
            field_dict["payload"] = payload
        if priority is not UNSET:
            field_dict["priority"] = priority
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if timeout_seconds is not UNSET:
            field_dict["timeout_seconds"] = timeout_seconds

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = d.pop("type")

        def _parse_batch_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        batch_id = _parse_batch_id(d.pop("batch_id", UNSET))


        def _parse_github_workflow_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        github_workflow_run_id = _parse_github_workflow_run_id(d.pop("github_workflow_run_id", UNSET))


        def _parse_group(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        group = _parse_group(d.pop("group", UNSET))


        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotency_key", UNSET))


        def _parse_max_attempts(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_attempts = _parse_max_attempts(d.pop("max_attempts", UNSET))


        _next_ = d.pop("next", UNSET)
        next_: list[PipelineStep] | Unset = UNSET
        if _next_ is not UNSET:
            next_ = []
            for next_item_data in _next_:
                next_item = PipelineStep.from_dict(next_item_data)



                next_.append(next_item)


        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))


        payload = d.pop("payload", UNSET)

        priority = d.pop("priority", UNSET)

        def _parse_run_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                run_at_type_0 = datetime.datetime.fromisoformat(data)



                return run_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        run_at = _parse_run_at(d.pop("run_at", UNSET))


        def _parse_timeout_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout_seconds = _parse_timeout_seconds(d.pop("timeout_seconds", UNSET))


        pipeline_step = cls(
            type_=type_,
            batch_id=batch_id,
            github_workflow_run_id=github_workflow_run_id,
            group=group,
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            next_=next_,
            owner=owner,
            payload=payload,
            priority=priority,
            run_at=run_at,
            timeout_seconds=timeout_seconds,
        )


        pipeline_step.additional_properties = d
        return pipeline_step

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
