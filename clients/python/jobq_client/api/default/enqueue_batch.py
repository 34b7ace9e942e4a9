from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.batch import Batch
from ...models.batch_incomplete import BatchIncomplete
from ...models.error import Error
from ...models.new_batch import NewBatch
from typing import cast



def _get_kwargs(
    *,
    body: NewBatch,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/jobs/batch",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Batch | BatchIncomplete | BatchIncomplete | Error | Error | None:
    if response.status_code == 201:
        response_201 = Batch.from_dict(response.json())



        return response_201

    if response.status_code == 207:
        response_207 = BatchIncomplete.from_dict(response.json())



        return response_207

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
        def _parse_response_503(data: object) -> BatchIncomplete | Error:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_batch_unavailable_type_0 = BatchIncomplete.from_dict(data)



                return componentsschemas_batch_unavailable_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_batch_unavailable_type_1 = Error.from_dict(data)



            return componentsschemas_batch_unavailable_type_1

        response_503 = _parse_response_503(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Batch | BatchIncomplete | BatchIncomplete | Error | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: NewBatch,

) -> Response[Batch | BatchIncomplete | BatchIncomplete | Error | Error]:
    """ Enqueue up to 100 jobs, all or nothing.

     201 when every job was enqueued; 503 `batch_not_created` when this request left no job behind
    (send it again); 207 `batch_incomplete` when some jobs exist and others do not, each entry
    saying which (send again only the `not_created` ones).

    Roles: admin, submitter.

    Args:
        body (NewBatch): `POST /jobs/batch`: up to 100 jobs, enqueued all or none.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Batch | BatchIncomplete | BatchIncomplete | Error | Error]
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
    body: NewBatch,

) -> Batch | BatchIncomplete | BatchIncomplete | Error | Error | None:
    """ Enqueue up to 100 jobs, all or nothing.

     201 when every job was enqueued; 503 `batch_not_created` when this request left no job behind
    (send it again); 207 `batch_incomplete` when some jobs exist and others do not, each entry
    saying which (send again only the `not_created` ones).

    Roles: admin, submitter.

    Args:
        body (NewBatch): `POST /jobs/batch`: up to 100 jobs, enqueued all or none.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Batch | BatchIncomplete | BatchIncomplete | Error | Error
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: NewBatch,

) -> Response[Batch | BatchIncomplete | BatchIncomplete | Error | Error]:
    """ Enqueue up to 100 jobs, all or nothing.

     201 when every job was enqueued; 503 `batch_not_created` when this request left no job behind
    (send it again); 207 `batch_incomplete` when some jobs exist and others do not, each entry
    saying which (send again only the `not_created` ones).

    Roles: admin, submitter.

    Args:
        body (NewBatch): `POST /jobs/batch`: up to 100 jobs, enqueued all or none.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Batch | BatchIncomplete | BatchIncomplete | Error | Error]
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
    body: NewBatch,

) -> Batch | BatchIncomplete | BatchIncomplete | Error | Error | None:
    """ Enqueue up to 100 jobs, all or nothing.

     201 when every job was enqueued; 503 `batch_not_created` when this request left no job behind
    (send it again); 207 `batch_incomplete` when some jobs exist and others do not, each entry
    saying which (send again only the `not_created` ones).

    Roles: admin, submitter.

    Args:
        body (NewBatch): `POST /jobs/batch`: up to 100 jobs, enqueued all or none.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Batch | BatchIncomplete | BatchIncomplete | Error | Error
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
