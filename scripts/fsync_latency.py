#!/usr/bin/env python3
"""The disk's own latency for what the daemon does per batch: append a
frame to a log and fdatasync it (the daemon answers 2xx only after that).

Usage: scripts/fsync_latency.py [DIR] [--bytes N] [--count N] [--overwrite]

With --overwrite the file is first written to its full length and synced,
and the frames then overwrite it from the start: what the daemon does in a
recycled log (src/server/wal.rs), where the blocks exist already and an
fdatasync has no metadata to commit.

Writes a temporary file in DIR (default: the current directory, put it on
the disk the state directory lives on), prints p50/p90/p99/max of the
fdatasync calls in milliseconds, and removes the file. A JSON batch of
1,000 rows x 30 features makes a frame of about 250 KB.
"""

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default=".")
    parser.add_argument("--bytes", type=int, default=250_000)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    payload = os.urandom(args.bytes)
    fd, path = tempfile.mkstemp(prefix="fsync-latency-", dir=args.dir)
    took = []
    try:
        if args.overwrite:
            for _ in range(args.count):
                os.write(fd, payload)
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        for _ in range(args.count):
            os.write(fd, payload)
            start = time.perf_counter()
            os.fdatasync(fd)
            took.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    took.sort()

    def at(q: float) -> float:
        return took[min(len(took) - 1, int(q * len(took)))]

    print(
        f"{args.count} {'overwrites' if args.overwrite else 'appends'} of {args.bytes} bytes, fdatasync ms: "
        f"p50 {at(0.5):.2f}  p90 {at(0.9):.2f}  p99 {at(0.99):.2f}  max {took[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
