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
from _common import ROOT, command_line, free_port, latency_line, start, stop

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE = ROOT / ".cache" / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"


def wait_port(port: int, deadline_s: float = 60) -> None:
    import socket

    start_at = time.perf_counter()
    while time.perf_counter() - start_at < deadline_s:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {deadline_s} s")


def connection(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")


def sdk_round(port: int, data: bytes) -> Callable[[], float]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection(port))
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
    if not AZURITE.exists():
        sys.exit(f"Azurite is not installed at {AZURITE}: run the Storage API tests once (pytest tests/storage_api) "
                 f"or: npm install --prefix .cache/azurite azurite")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours, theirs = free_port(), free_port()
        overcast = start([sys.executable, "-m", "overcast", "storage", "--script-root", str(folder), "--data-dir",
                          str(folder / "data"), "--blob-port", str(ours), "--queue-port", str(free_port()),
                          "--table-port", str(free_port())], folder / "overcast.log")
        azurite = start(["node", str(AZURITE), "--blobPort", str(theirs), "--queuePort", str(free_port()),
                         "--tablePort", str(free_port()), "--location", str(folder / "azurite"),
                         "--skipApiVersionCheck", "--silent", "--disableTelemetry"], folder / "azurite.log")
        try:
            wait_port(ours)
            wait_port(theirs)
            data = bytes(range(256)) * (args.size // 256) + b"x" * (args.size % 256)
            rounds = {"overcast endpoint": sdk_round(ours, data), "azurite endpoint": sdk_round(theirs, data),
                      "store, direct": store_round(folder / "direct", data)}
            for one in rounds.values():
                for _ in range(args.warmup):
                    one()
            samples: dict[str, list[float]] = {name: [] for name in rounds}
            for _ in range(args.rounds):  # interleaved: each round of each side sees the same noise
                for name, one in rounds.items():
                    samples[name].append(one() * 1000)
        finally:
            stop(overcast)
            stop(azurite)
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
