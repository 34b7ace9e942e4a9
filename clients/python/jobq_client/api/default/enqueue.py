from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.job import Job
from ...models.new_job_echo import NewJobEcho
from ...models.new_job_fail import NewJobFail
from ...models.new_job_noop import NewJobNoop
from ...models.new_job_sleep import NewJobSleep
from typing import cast



def _get_kwargs(
    *,
    body: NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/jobs",
    }

    
    if isinstance(body, NewJobEcho):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, NewJobFail):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, NewJobNoop):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body.to_dict()


    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Job | None:
    if response.status_code == 200:
        response_200 = Job.from_dict(response.json())



        return response_200

    if response.status_code == 201:
        response_201 = Job.from_dict(response.json())



        return response_201

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())



        return response_403

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())



        return response_413

    if response.status_code == 415:
        response_415 = Error.from_dict(response.json())



        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Job]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep,

) -> Response[Error | Job]:
    """ Enqueue a job.

     Roles: admin, submitter.

    Args:
        body (NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep): A job to enqueue (`POST /jobs`,
            each of a batch's `jobs`). Optional fields may also be null,
            which is the same as leaving them out. One of the registered job types, by `type`; its
            `payload` must fit that type's schema (`Payload.<type>`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Job]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep,

) -> Error | Job | None:
    """ Enqueue a job.

     Roles: admin, submitter.

    Args:
        body (NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep): A job to enqueue (`POST /jobs`,
            each of a batch's `jobs`). Optional fields may also be null,
            which is the same as leaving them out. One of the registered job types, by `type`; its
            `payload` must fit that type's schema (`Payload.<type>`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Job
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep,

) -> Response[Error | Job]:
    """ Enqueue a job.

     Roles: admin, submitter.

    Args:
        body (NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep): A job to enqueue (`POST /jobs`,
            each of a batch's `jobs`). Optional fields may also be null,
            which is the same as leaving them out. One of the registered job types, by `type`; its
            `payload` must fit that type's schema (`Payload.<type>`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Job]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep,

) -> Error | Job | None:
    """ Enqueue a job.

     Roles: admin, submitter.

    Args:
        body (NewJobEcho | NewJobFail | NewJobNoop | NewJobSleep): A job to enqueue (`POST /jobs`,
            each of a batch's `jobs`). Optional fields may also be null,
            which is the same as leaving them out. One of the registered job types, by `type`; its
            `payload` must fit that type's schema (`Payload.<type>`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Job
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
