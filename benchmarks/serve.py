"""Load test of ``speechdl serve``: N concurrent clients on loopback against a real uvicorn server.

For each model (default ``vad`` and ``asr``), ``--clients`` threads (default 8) each hold one keep-alive
HTTP connection and POST the same 10 s clip (the first 10 s of ``speechdl/assets/sample.flac``, WAV)
until ``--requests`` answers are in or ``--seconds`` have passed (bounded in count and in time). It
reports latency p50 / p95 / p99 (ms, from sending the request to the last byte of the answer), requests
per second and seconds of audio per second over the phase's wall time, and every non-200 answer.

Memory: ``--memory-requests`` (default 1,000) VAD requests with the same clients while a sampler reads the
server's resident set size (RSS) every 50 ms; the report gives the peak and the mean RSS while the first
100 and the last 100 requests were answered (flat memory: the two agree within noise).

The server runs in its own process (``speechdl serve --preload``, ``--workers``, ``--threads`` per worker);
the clients share the machine with it, so on a small machine they take CPU from it: the load average
before and after is printed.

Usage:
    python benchmarks/serve.py                          # vad + asr, 8 clients, then 1,000 VAD requests
    python benchmarks/serve.py --models vad --requests 100 --memory-requests 200 --format json
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechdl.console import format_table, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"


def clip_wav(seconds: float) -> bytes:
    """The first ``seconds`` of the sample (tiled if it is shorter), as 16 kHz 16-bit WAV bytes."""
    import soundfile as sf

    x, sr = sf.read(str(SAMPLE), dtype="float32")
    n = int(seconds * sr)
    x = np.tile(x, n // len(x) + 1)[:n]
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of file ``fields`` -> (body, content type)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, (filename, data) in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Server:
    """``speechdl serve`` in a subprocess on a free loopback port."""

    def __init__(self, models: list[str], workers: int, threads: int, queue: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "speechdl.cli", "serve", "--port", str(self.port), "--models", ",".join(models),
             "--workers", str(workers), "--threads", str(threads), "--queue", str(queue), "--preload",
             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"speechdl serve exited: {self.proc.stderr.read()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        raise SystemExit("speechdl serve did not start in 300 s")

    def rss(self) -> int:
        """Resident set size of the server process (bytes)."""
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def load_phase(port: int, path: str, body: bytes, ctype: str, clients: int, requests: int, seconds: float,
               on_done: Any = None) -> dict[str, Any]:
    """``clients`` threads POST ``body`` until ``requests`` answers or ``seconds``; latencies and statuses."""
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                if issued[0] >= requests or time.monotonic() >= deadline:
                    break
                issued[0] += 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": ctype})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                status = 0
            dt = time.perf_counter() - t0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(dt)
                done = sum(statuses.values())
            if on_done is not None:
                on_done(done)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(latencies)

    def pct(q: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else float("nan")

    return {"requests": sum(statuses.values()), "ok": len(lat), "statuses": {str(k): v for k, v in statuses.items()},
            "wall_s": round(wall, 2), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else float("nan"),
            "requests_per_s": round(len(lat) / wall, 2) if wall else 0.0}


def memory_phase(server: Server, port: int, body: bytes, ctype: str, clients: int, requests: int,
                 seconds: float) -> dict[str, Any]:
    """VAD ``requests`` times while sampling the server's RSS against the number of answers."""
    samples: list[tuple[int, int]] = []   # (answers so far, rss)
    done = [0]
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            samples.append((done[0], server.rss()))
            stop.wait(0.05)

    def count(n: int) -> None:
        done[0] = n

    before = server.rss()
    thread = threading.Thread(target=sampler)
    thread.start()
    stats = load_phase(port, "/v1/vad", body, ctype, clients, requests, seconds, on_done=count)
    stop.set()
    thread.join()
    after = server.rss()
    n = stats["requests"]
    first = [r for k, r in samples if k <= 100] or [before]
    last = [r for k, r in samples if k >= n - 100] or [after]
    mib = 1024 * 1024
    return {"requests": n, "ok": stats["ok"], "statuses": stats["statuses"],
            "rss_start_mib": round(before / mib, 1), "rss_first100_mib": round(statistics.fmean(first) / mib, 1),
            "rss_last100_mib": round(statistics.fmean(last) / mib, 1),
            "rss_peak_mib": round(max(r for _, r in samples) / mib, 1) if samples else None,
            "rss_end_mib": round(after / mib, 1),
            "growth_last_vs_first_mib": round((statistics.fmean(last) - statistics.fmean(first)) / mib, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="vad,asr", help="comma-separated models to load-test (audio input)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--requests", type=int, default=200, help="answers per model at most (default 200)")
    ap.add_argument("--seconds", type=float, default=90, help="time per model at most (default 90 s)")
    ap.add_argument("--clip", type=float, default=10.0, help="clip length in seconds (default 10)")
    ap.add_argument("--memory-requests", type=int, default=1000, help="VAD answers of the memory phase (0: skip)")
    ap.add_argument("--memory-seconds", type=float, default=600, help="time of the memory phase at most")
    ap.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per server worker (default 1)")
    ap.add_argument("--queue", type=int, default=16, help="server queue (default 16)")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--out", default=None, help="also write the JSON report here")
    args = ap.parse_args(argv)

    models = [m for m in args.models.split(",") if m]
    load_before = os.getloadavg()
    wav = clip_wav(args.clip)
    body, ctype = multipart({"audio": ("clip.wav", wav)})
    server = Server(sorted(set(models) | ({"vad"} if args.memory_requests else set())), args.workers, args.threads,
                    args.queue)
    rows, report = [], {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                    "platform": platform.platform()},
                        "settings": {k: v for k, v in vars(args).items() if k not in ("format", "out")},
                        "models": {}}
    try:
        for model in models:
            load_phase(server.port, f"/v1/{model}", body, ctype, 1, 2, 120)   # warm-up
            stats = load_phase(server.port, f"/v1/{model}", body, ctype, args.clients, args.requests, args.seconds)
            stats["x_real_time"] = round(stats["requests_per_s"] * args.clip, 1)
            report["models"][model] = stats
            rows.append({"model": model, "clients": args.clients, "answers": f"{stats['ok']}/{stats['requests']}",
                         "p50 ms": stats["p50_ms"], "p95 ms": stats["p95_ms"], "p99 ms": stats["p99_ms"],
                         "req/s": stats["requests_per_s"], "audio s/s": stats["x_real_time"],
                         "non-200": sum(v for k, v in stats["statuses"].items() if k != "200")})
        if args.memory_requests:
            report["memory"] = memory_phase(server, server.port, body, ctype, args.clients, args.memory_requests,
                                            args.memory_seconds)
    finally:
        server.stop()
    report["load_average"] = {"before": [round(x, 2) for x in load_before],
                              "after": [round(x, 2) for x in os.getloadavg()]}
    text = [f"speechdl serve on loopback: {args.workers} workers x {args.threads} torch thread(s), "
            f"{args.clients} clients, {args.clip:g} s WAV clip, {os.cpu_count()} CPUs", format_table(rows)]
    if "memory" in report:
        m = report["memory"]
        text.append(f"memory over {m['ok']}/{m['requests']} VAD requests: RSS start {m['rss_start_mib']} MiB, "
                    f"first 100 {m['rss_first100_mib']} MiB, last 100 {m['rss_last100_mib']} MiB "
                    f"(growth {m['growth_last_vs_first_mib']:+} MiB), peak {m['rss_peak_mib']} MiB")
    text.append(f"load average before {report['load_average']['before']}, after {report['load_average']['after']}")
    write_report(report, args.format, "\n".join(text), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
