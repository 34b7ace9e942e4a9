from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.job_status import JobStatus
from ...models.page import Page
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    status: JobStatus | Unset = UNSET,
    type_: str | Unset = UNSET,
    batch_id: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    group: str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["type"] = type_

    params["batch_id"] = batch_id

    params["owner"] = owner

    params["group"] = group

    params["limit"] = limit

    params["cursor"] = cursor


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/jobs",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Page | None:
    if response.status_code == 200:
        response_200 = Page.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())



        return response_403

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())



        return response_422

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Page]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    type_: str | Unset = UNSET,
    batch_id: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    group: str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,

) -> Response[Error | Page]:
    """ List jobs, newest first.

     Roles: admin, submitter, viewer.

    Args:
        status (JobStatus | Unset): Where a job is in its life.
        type_ (str | Unset):
        batch_id (str | Unset):
        owner (str | Unset):
        group (str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Page]
     """


    kwargs = _get_kwargs(
        status=status,
type_=type_,
batch_id=batch_id,
owner=owner,
group=group,
limit=limit,
cursor=cursor,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    type_: str | Unset = UNSET,
    batch_id: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    group: str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,

) -> Error | Page | None:
    """ List jobs, newest first.

     Roles: admin, submitter, viewer.

    Args:
        status (JobStatus | Unset): Where a job is in its life.
        type_ (str | Unset):
        batch_id (str | Unset):
        owner (str | Unset):
        group (str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Page
     """


    return sync_detailed(
        client=client,
status=status,
type_=type_,
batch_id=batch_id,
owner=owner,
group=group,
limit=limit,
cursor=cursor,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    type_: str | Unset = UNSET,
    batch_id: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    group: str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,

) -> Response[Error | Page]:
    """ List jobs, newest first.

     Roles: admin, submitter, viewer.

    Args:
        status (JobStatus | Unset): Where a job is in its life.
        type_ (str | Unset):
        batch_id (str | Unset):
        owner (str | Unset):
        group (str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Page]
     """


    kwargs = _get_kwargs(
        status=status,
type_=type_,
batch_id=batch_id,
owner=owner,
group=group,
limit=limit,
cursor=cursor,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    type_: str | Unset = UNSET,
    batch_id: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    group: str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,

) -> Error | Page | None:
    """ List jobs, newest first.

     Roles: admin, submitter, viewer.

    Args:
        status (JobStatus | Unset): Where a job is in its life.
        type_ (str | Unset):
        batch_id (str | Unset):
        owner (str | Unset):
        group (str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Page
     """


    return (await asyncio_detailed(
        client=client,
status=status,
type_=type_,
batch_id=batch_id,
owner=owner,
group=group,
limit=limit,
cursor=cursor,

    )).parsed
