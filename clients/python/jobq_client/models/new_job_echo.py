from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.priority_tier import PriorityTier
from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast
import datetime

if TYPE_CHECKING:
  from ..models.new_step_echo import NewStepEcho
  from ..models.new_step_fail import NewStepFail
  from ..models.new_step_noop import NewStepNoop
  from ..models.new_step_sleep import NewStepSleep





T = TypeVar("T", bound="NewJobEcho")



@_attrs_define
class NewJobEcho:
    """ 
        Attributes:
            type_ (Literal['echo']):
            batch_id (None | str | Unset):
            delay_seconds (int | None | Unset): Seconds to wait before it runs; or `run_at`, not both.
            github_workflow_run_id (int | None | str | Unset):
            group (None | str | Unset): A set of jobs its owner lists together (`channel:abc`, `book:123`).
            idempotency_key (None | str | Unset): A job enqueued again with the same key is the one made the first time.
            max_attempts (int | None | Unset):
            next_ (list[NewStepEcho | NewStepFail | NewStepNoop | NewStepSleep] | None | Unset): The pipeline's later steps,
                each enqueued when the one before it completes.
            owner (None | str | Unset): Whom the job is for: the caller when left out; only an admin may name another owner.
            payload (Any | Unset):
            priority (int | None | PriorityTier | Unset):
            run_at (datetime.datetime | None | Unset): When it runs: at most 31536000 seconds ahead, as delay_seconds.
            timeout_seconds (int | None | Unset):
     """

    type_: Literal['echo']
    batch_id: None | str | Unset = UNSET
    delay_seconds: int | None | Unset = UNSET
    github_workflow_run_id: int | None | str | Unset = UNSET
    group: None | str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    max_attempts: int | None | Unset = UNSET
    next_: list[NewStepEcho | NewStepFail | NewStepNoop | NewStepSleep] | None | Unset = UNSET
    owner: None | str | Unset = UNSET
    payload: Any | Unset = UNSET
    priority: int | None | PriorityTier | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    timeout_seconds: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.new_step_echo import NewStepEcho # noqa: PLC0415
        from ..models.new_step_fail import NewStepFail # noqa: PLC0415
        from ..models.new_step_noop import NewStepNoop # noqa: PLC0415
        from ..models.new_step_sleep import NewStepSleep # noqa: PLC0415
        type_ = self.type_

        batch_id: None | str | Unset
        if isinstance(self.batch_id, Unset):
            batch_id = UNSET
        else:
            batch_id = self.batch_id

        delay_seconds: int | None | Unset
        if isinstance(self.delay_seconds, Unset):
            delay_seconds = UNSET
        else:
            delay_seconds = self.delay_seconds

        github_workflow_run_id: int | None | str | Unset
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

        next_: list[dict[str, Any]] | None | Unset
        if isinstance(self.next_, Unset):
            next_ = UNSET
        elif isinstance(self.next_, list):
            next_ = []
            for next_type_0_item_data in self.next_:
                next_type_0_item: dict[str, Any]
                if isinstance(next_type_0_item_data, NewStepEcho):
                    next_type_0_item = next_type_0_item_data.to_dict()
                elif isinstance(next_type_0_item_data, NewStepFail):
                    next_type_0_item = next_type_0_item_data.to_dict()
                elif isinstance(next_type_0_item_data, NewStepNoop):
                    next_type_0_item = next_type_0_item_data.to_dict()
                else:
                    next_type_0_item = next_type_0_item_data.to_dict()

                next_.append(next_type_0_item)


        else:
            next_ = self.next_

        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        payload = self.payload

        priority: int | None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityTier):
            priority = self.priority.value
        else:
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
        if delay_seconds is not UNSET:
            field_dict["delay_seconds"] = delay_seconds
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
        from ..models.new_step_echo import NewStepEcho # noqa: PLC0415
        from ..models.new_step_fail import NewStepFail # noqa: PLC0415
        from ..models.new_step_noop import NewStepNoop # noqa: PLC0415
        from ..models.new_step_sleep import NewStepSleep # noqa: PLC0415
        d = dict(src_dict)
        type_ = cast(Literal['echo'] , d.pop("type"))
        if type_ != 'echo':
            raise ValueError(f"type must match const 'echo', got '{type_}'")

        def _parse_batch_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        batch_id = _parse_batch_id(d.pop("batch_id", UNSET))


        def _parse_delay_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        delay_seconds = _parse_delay_seconds(d.pop("delay_seconds", UNSET))


        def _parse_github_workflow_run_id(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

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


        def _parse_next_(data: object) -> list[NewStepEcho | NewStepFail | NewStepNoop | NewStepSleep] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                next_type_0 = []
                _next_type_0 = data
                for next_type_0_item_data in (_next_type_0):
                    def _parse_next_type_0_item(data: object) -> NewStepEcho | NewStepFail | NewStepNoop | NewStepSleep:
                        try:
                            if not isinstance(data, dict):
                                raise TypeError()
                            componentsschemas_new_step_new_step_echo = NewStepEcho.from_dict(data)



                            return componentsschemas_new_step_new_step_echo
                        except (TypeError, ValueError, AttributeError, KeyError):
                            pass
                        try:
                            if not isinstance(data, dict):
                                raise TypeError()
                            componentsschemas_new_step_new_step_fail = NewStepFail.from_dict(data)



                            return componentsschemas_new_step_new_step_fail
                        except (TypeError, ValueError, AttributeError, KeyError):
                            pass
                        try:
                            if not isinstance(data, dict):
                                raise TypeError()
                            componentsschemas_new_step_new_step_noop = NewStepNoop.from_dict(data)



                            return componentsschemas_new_step_new_step_noop
                        except (TypeError, ValueError, AttributeError, KeyError):
                            pass
                        if not isinstance(data, dict):
                            raise TypeError()
                        componentsschemas_new_step_new_step_sleep = NewStepSleep.from_dict(data)



                        return componentsschemas_new_step_new_step_sleep

                    next_type_0_item = _parse_next_type_0_item(next_type_0_item_data)

                    next_type_0.append(next_type_0_item)

                return next_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[NewStepEcho | NewStepFail | NewStepNoop | NewStepSleep] | None | Unset, data)

        next_ = _parse_next_(d.pop("next", UNSET))


        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))


        payload = d.pop("payload", UNSET)

        def _parse_priority(data: object) -> int | None | PriorityTier | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_priority_type_1 = PriorityTier(data)



                return componentsschemas_priority_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | None | PriorityTier | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))


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


        new_job_echo = cls(
            type_=type_,
            batch_id=batch_id,
            delay_seconds=delay_seconds,
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


        new_job_echo.additional_properties = d
        return new_job_echo

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
