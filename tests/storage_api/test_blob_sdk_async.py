"""The real azure-storage-blob SDK's async clients (``azure.storage.blob.aio``, on aiohttp) against Overcast and
against Azurite: the operations of the sync suite through the async transport, with the same observable results."""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobType, ContentSettings
from azure.storage.blob.aio import BlobServiceClient

from tests.storage_api.conftest import Target


async def _round_trip(target: Target, name: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    # Small single-put and block sizes: a 300 KiB upload goes as staged blocks and a block list.
    async with BlobServiceClient.from_connection_string(target.connection_string, max_single_put_size=64 * 1024,
                                                        max_block_size=64 * 1024) as service:
        container = await service.create_container(name, metadata={"team": "blue"})
        try:
            await service.create_container(name)
        except ResourceExistsError as exc:
            seen["exists"] = (exc.status_code, exc.error_code)
        props = await container.get_container_properties()
        seen["container_metadata"] = props.metadata

        small = container.get_blob_client("docs/a.txt")
        await small.upload_blob(b"hello async", metadata={"k": "v"},
                                content_settings=ContentSettings(content_type="text/plain"))
        big = container.get_blob_client("docs/big.bin")
        payload = bytes(range(256)) * 1200  # 300 KiB
        await big.upload_blob(payload)
        committed, _ = await big.get_block_list("committed")
        seen["blocks"] = len(committed)
        seen["big"] = await (await big.download_blob()).readall() == payload
        seen["range"] = await (await big.download_blob(offset=256, length=10)).readall()

        blob_props = await small.get_blob_properties()
        seen["props"] = (blob_props.size, blob_props.metadata, blob_props.content_settings.content_type)
        try:
            await small.upload_blob(b"x", overwrite=True, etag='"0x1"', match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError as exc:
            seen["condition"] = (exc.status_code, exc.error_code)

        staged = container.get_blob_client("docs/staged.txt")
        await staged.stage_block("YQ==", b"first ")
        await staged.stage_block("Yg==", b"second")
        await staged.commit_block_list([BlobBlock("YQ=="), BlobBlock("Yg==")])
        seen["staged"] = await (await staged.download_blob()).readall()

        await container.get_blob_client("top.txt").upload_blob(b"t")
        seen["flat"] = sorted([b.name async for b in container.list_blobs(name_starts_with="docs/")])
        seen["walk"] = sorted([b.name async for b in container.walk_blobs(delimiter="/")])

        copy = container.get_blob_client("copy.txt")
        await copy.start_copy_from_url(small.url)
        seen["copy"] = await (await copy.download_blob()).readall()

        lease = await small.acquire_lease(lease_duration=15)
        try:
            await small.delete_blob()
        except HttpResponseError as exc:
            seen["leased"] = (exc.status_code, exc.error_code)
        await lease.release()

        log = container.get_blob_client("log.txt")
        await log.create_append_blob()
        await log.append_block(b"one;")
        await log.append_block(b"two;")
        seen["append"] = (await (await log.download_blob()).readall(), (await log.get_blob_properties()).blob_type)

        await small.delete_blob()
        try:
            await small.get_blob_properties()
        except ResourceNotFoundError as exc:
            seen["gone"] = (exc.status_code, exc.error_code)
        await service.delete_container(name)
    return seen


def test_the_async_client_round_trips_every_kind_of_write(target: Target, name: str) -> None:
    seen = asyncio.run(_round_trip(target, name))
    assert seen == {
        "exists": (409, "ContainerAlreadyExists"),
        "container_metadata": {"team": "blue"},
        "blocks": 5,
        "big": True,
        "range": bytes(range(0, 10)),
        "props": (11, {"k": "v"}, "text/plain"),
        "condition": (412, "ConditionNotMet"),
        "staged": b"first second",
        "flat": ["docs/a.txt", "docs/big.bin", "docs/staged.txt"],
        "walk": ["docs/", "top.txt"],
        "copy": b"hello async",
        "leased": (412, "LeaseIdMissing"),
        "append": (b"one;two;", BlobType.APPENDBLOB),
        "gone": (404, "BlobNotFound"),
    }
