"""Peak memory and throughput of large blobs through the Blob API: the server's RSS must not grow with the blob.

``overcast storage`` serves its SQLite store (a temporary folder) and then a PostgreSQL store (``--connection``,
a schema of its own; skipped without ``OVERCAST_TEST_POSTGRES``). With the real ``azure-storage-blob`` SDK, each
backend takes a blob of ``--size`` MiB in one Put Blob, again as 4 MiB staged blocks (Put Block List), and gives
it back whole; the bytes are checked by SHA-256. Before the transfers the server's peak RSS is reset
(``/proc/<pid>/clear_refs``); after each, its peak (``VmHWM``) less the RSS it had before is the growth, printed
as a ratio to the blob size (target: well under 0.25; a server that held the blob whole would be >= 1). Throughput
is MiB/s against a same-run baseline: the same bytes written to and read back from a file in this process (the
floor any store pays to put a blob on disk and read it back), and Azurite (npm, ``.cache/azurite`` as the Storage
API tests install it; skipped when missing) measured the same way.

    OVERCAST_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test python bench/blob_memory.py [--size 256]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line
from servers import AZURITE, azurite, connection, overcast_storage

MIB = 1024 * 1024


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> int:
    """Resets VmHWM to the current RSS (Linux >= 4.0); the RSS in bytes."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status_kib(pid, "VmRSS") * 1024


def make_file(folder: Path, size: int) -> tuple[Path, str]:
    path = folder / "payload.bin"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(4 * MIB, left))
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return path, digest.hexdigest()


def file_baseline(source: Path, folder: Path) -> tuple[float, float]:
    """MiB/s writing ``source``'s bytes to a new file (fsync'd, as a store commits) and reading them back."""
    size = source.stat().st_size
    target = folder / "baseline.bin"
    begin = time.perf_counter()
    with source.open("rb") as src, target.open("wb") as out:
        while piece := src.read(4 * MIB):
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())
    write = size / MIB / (time.perf_counter() - begin)
    begin = time.perf_counter()
    with target.open("rb") as src:
        while src.read(4 * MIB):
            pass
    read = size / MIB / (time.perf_counter() - begin)
    target.unlink()
    return write, read


def measure(pid: int, port: int, source: Path, expected: str, folder: Path) -> list[tuple[str, float, float]]:
    """(transfer, MiB/s, peak RSS growth in bytes) for a single put, a staged upload and a download."""
    from azure.storage.blob import BlobClient

    size = source.stat().st_size
    conn = connection(port, "blob")
    single = BlobClient.from_connection_string(conn, "bench", "single.bin", max_single_put_size=size + 1)
    staged = BlobClient.from_connection_string(conn, "bench", "staged.bin", max_single_put_size=4 * MIB,
                                               max_block_size=4 * MIB)
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(conn).create_container("bench")
    warm = BlobClient.from_connection_string(conn, "bench", "warm.bin")
    warm.upload_blob(os.urandom(2 * MIB))  # imports and pools warm before the peak is reset
    warm.download_blob().readall()
    results = []

    def run(name: str, action: object) -> None:
        before = reset_peak(pid)
        begin = time.perf_counter()
        action()  # type: ignore[operator]
        elapsed = time.perf_counter() - begin
        growth = status_kib(pid, "VmHWM") * 1024 - before
        results.append((name, size / MIB / elapsed, growth))

    def upload(client: BlobClient) -> None:
        with source.open("rb") as data:
            client.upload_blob(data, length=size, overwrite=True, max_concurrency=2)

    def download() -> None:
        digest = hashlib.sha256()
        for chunk in single.download_blob(max_concurrency=1).chunks():
            digest.update(chunk)
        if digest.hexdigest() != expected:
            raise AssertionError("the downloaded blob differs from the upload")

    run("Put Blob (one request)", lambda: upload(single))
    run("Put Block x N + Put Block List", lambda: upload(staged))
    run("Get Blob (whole)", download)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="blob size in MiB (default 256)")
    args = parser.parse_args()
    size = args.size * MIB
    print(f"# {command_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source, expected = make_file(folder, size)
        write_base, read_base = file_baseline(source, folder)
        print(f"baseline (file in this process): write {write_base:7.1f} MiB/s, read {read_base:7.1f} MiB/s")
        print(f"{'backend':<10} {'transfer':<32} {'MiB/s':>8} {'x baseline':>10} {'peak RSS growth':>16} "
              f"{'/ blob':>7}")
        targets: list[tuple[str, tuple[str, ...]]] = [("sqlite", ())]
        url = os.environ.get("OVERCAST_TEST_POSTGRES", "")
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        if url:
            sep = "&" if "?" in url else "?"
            targets.append(("postgresql", ("--connection", f"{url}{sep}options=-csearch_path%3D{schema}")))
        else:
            print("(PostgreSQL skipped: set OVERCAST_TEST_POSTGRES)")
        if not AZURITE.exists():
            print("(Azurite skipped: run the Storage API tests once to install it into .cache/azurite)")
        try:
            for name, extra in [*targets, *([("azurite", ())] if AZURITE.exists() else [])]:
                served = folder / name
                served.mkdir()
                running = azurite(served, "blob") if name == "azurite" else overcast_storage(served, "blob", *extra)
                with running as server:
                    for transfer, speed, growth in measure(server.pid, server.port, source, expected, served):
                        base = read_base if transfer.startswith("Get") else write_base
                        print(f"{name:<10} {transfer:<32} {speed:8.1f} {speed / base:10.2f} "
                              f"{growth / MIB:12.1f} MiB {growth / size:7.3f}", flush=True)
        finally:
            if url:
                import psycopg

                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
