"""Queue put + get through the Queue API: Overcast's endpoint against Azurite's, and the store called directly.

One round is ``send_message`` then ``receive_message`` then ``delete_message`` with the real ``azure-storage-queue``
SDK (one client per server, kept alive), one at a time. Overcast runs as ``overcast storage`` (its SQLite store in a
temporary folder); Azurite is the npm package the Storage API tests install into ``.cache/azurite`` (in-memory
persistence off, its default: files in a temporary folder). Rounds alternate between the two servers so both see
the same machine noise. The baseline is the embedded queue service store called in this process (put, get, delete),
the floor of what the endpoint adds HTTP, XML and auth to.

    python bench/storage_queue_api.py [--rounds 2000] [--warmup 200]

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


def sdk_round(port: int, queue: str) -> Callable[[], float]:
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(connection(port, "queue"), queue)
    client.create_queue()

    def one() -> float:
        begin = time.perf_counter()
        client.send_message("hello from the benchmark")
        message = client.receive_message(visibility_timeout=30)
        assert message is not None
        client.delete_message(message)
        return time.perf_counter() - begin

    return one


def store_round(folder: Path) -> Callable[[], float]:
    from overcast.backends.registry import BackendTarget, open_backend

    store = open_backend("embedded", BackendTarget(folder)).open_queue_service()
    store.create_queue("direct", {})

    def one() -> float:
        begin = time.perf_counter()
        store.put_message("direct", b"hello from the benchmark", 0.0, None)
        [message] = store.get_messages("direct", 1, 30.0) or []
        assert message.pop_receipt is not None
        store.delete_message("direct", message.id, message.pop_receipt)
        return time.perf_counter() - begin

    return one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    require_azurite()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with overcast_storage(folder, "queue") as ours, azurite(folder / "azurite", "queue") as theirs:
            rounds = {"overcast endpoint": sdk_round(ours.port, "bench"),
                      "azurite endpoint": sdk_round(theirs.port, "bench"),
                      "store, direct": store_round(folder / "direct")}
            for one in rounds.values():
                for _ in range(args.warmup):
                    one()
            samples: dict[str, list[float]] = {name: [] for name in rounds}
            for _ in range(args.rounds):  # interleaved: each round of each side sees the same noise
                for name, one in rounds.items():
                    samples[name].append(one() * 1000)
    print(f"# {command_line()}")
    print(f"Queue put + get + delete, one at a time, {args.rounds} rounds (after {args.warmup} warm-up):")
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
