"""Blob upload + download through the Blob API: Overcast's endpoint against Azurite's, and the store called directly.

One round is ``upload_blob(overwrite=True)`` then ``download_blob().readall()`` of a blob of ``--size`` bytes
(1 KiB and 8 MiB in docs/performance.md) with the real ``azure-storage-blob`` SDK (one client per server, kept
alive), one at a time. Overcast runs as ``overcast storage`` (its SQLite store in a
temporary folder); Azurite is the npm package the Storage API tests install into ``.cache/azurite`` (in-memory
persistence off, its default: files in a temporary folder). Rounds alternate between the two servers so both see
the same machine noise. The baseline is the embedded Blob API store called in this process (put, read), the floor of
what the endpoint adds HTTP, XML and auth to.

    python bench/storage_api.py [--size 1024] [--rounds 500] [--warmup 50]

Target (issue 13): faster than Azurite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, latency_line
from servers import azurite, connection, overcast_storage, require_azurite


def sdk_round(port: int, data: bytes) -> Callable[[], float]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection(port, "blob"))
    service.create_container("bench")
    client = service.get_blob_client("bench", "blob.bin")

    def one() -> float:
        begin = time.perf_counter()
        client.upload_blob(data, overwrite=True)
        assert len(client.download_blob().readall()) == len(data)
        return time.perf_counter() - begin

    return one


def store_round(folder: Path, data: bytes) -> Callable[[], float]:
    from overcast.backends.blob_api_store import BlobWrite, Conditions
    from overcast.backends.registry import BackendTarget, open_backend

    store = open_backend("embedded", BackendTarget(folder)).open_blob_api()
    store.create_container("direct", {}, "")

    def one() -> float:
        begin = time.perf_counter()
        store.put_blob("direct", "blob.bin", [data], BlobWrite(), Conditions())
        assert len(store.read_blob("direct", "blob.bin", Conditions())[0].read()) == len(data)
        return time.perf_counter() - begin

    return one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    require_azurite()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with overcast_storage(folder, "blob") as ours, azurite(folder / "azurite", "blob") as theirs:
            data = bytes(range(256)) * (args.size // 256) + b"x" * (args.size % 256)
            rounds = {"overcast endpoint": sdk_round(ours.port, data), "azurite endpoint": sdk_round(theirs.port, data),
                      "store, direct": store_round(folder / "direct", data)}
            for one in rounds.values():
                for _ in range(args.warmup):
                    one()
            samples: dict[str, list[float]] = {name: [] for name in rounds}
            for _ in range(args.rounds):  # interleaved: each round of each side sees the same noise
                for name, one in rounds.items():
                    samples[name].append(one() * 1000)
    print(f"# {command_line()}")
    print(f"Blob upload + download of {args.size} bytes, one at a time, {args.rounds} rounds "
          f"(after {args.warmup} warm-up):")
    width = max(len(name) for name in samples)
    for name, values in samples.items():
        print(latency_line(name, values, width) + f"  mean {statistics.fmean(values):7.2f} ms")
    ours_p50 = statistics.median(samples["overcast endpoint"])
    theirs_p50 = statistics.median(samples["azurite endpoint"])
    direct_p50 = statistics.median(samples["store, direct"])
    print(f"Azurite / Overcast p50: {theirs_p50 / ours_p50:.2f}x (target > 1: Overcast faster)")
    print(f"Overcast endpoint / store direct p50: {ours_p50 / direct_p50:.1f}x (HTTP, XML, SharedKey and the SDK)")


if __name__ == "__main__":
    main()
