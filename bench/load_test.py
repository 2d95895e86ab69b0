"""Load test (issue 14): annotators clicking while a media host stalls every tenth request and a
batch of tasks waits in the job queue, against `labelme-sam2 serve` in a subprocess.

Usage: .venv/bin/python bench/load_test.py [--annotators 20] [--tasks 500] [--seconds 240]
       [--jobs-seconds 30] [--pages 2] [--clicks-per-image 3] [--think 3] [--stall-every 10]
       [--cancels 3] [--resend 50] [--feature-cache-mb 256] [--request-margin-mb 128]
       [--malloc-arena-max N] [--keep]
       [--model NAME] [--checkpoint random|PATH] [--image-size 256] [--device cpu]

Helpers: bench/load_test_hosts.py (servers), load_test_records.py (records), load_test_report.py.

Everything runs on this machine:
- the backend: `labelme-sam2 serve` with the embedded job queue (SAM 2.1 tiny, random weights,
  256 px, CPU by default), http media allowed from 127.0.0.1, writing its predictions to a
  stand-in of Label Studio's prediction API; its RSS is read from /proc/<pid>/status;
- a media host (tests/media_server.py) serving bedroom frames, every --stall-every-th request
  (all URLs counted together) stalling, alternately before and after its headers, until the
  client hangs up;
- a stand-in of Label Studio's prediction API (list, delete, create), counting writes per task;
- one /predict with --tasks frame-sequence tasks (--pages frames each, a click on page 0), as
  Label Studio's "Retrieve predictions" sends a batch; then 20 tasks more, past the queue's cap
  (LABELME_SAM2_MAX_QUEUED_JOBS = --tasks here); then the last --resend tasks again, as a second
  "Retrieve predictions" (their queued jobs are replaced);
- --annotators threads for --seconds, each opening images (a URL of its own, so each is
  downloaded and encoded) and clicking --clicks-per-image times on each, --think seconds apart
  (+-50%); an image whose first click fails is skipped;
- probes: the batch's first --cancels tasks and the one after have their last frame on a URL
  that always stalls; a watcher cancels each of the first once its job is caught downloading
  it, the last is left to time out.
Then the queue runs alone for --jobs-seconds (a few tasks sent again while their job runs),
every job left is cancelled, and the figures and a PASS/FAIL per claim are printed as
Markdown rows for docs/benchmarks.md; the exit status is 1 when a claim fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.load_test_hosts import Backend, FakeLabelStudio, StallingMedia  # noqa: E402
from bench.load_test_records import (  # noqa: E402
    BEDROOM,
    CONNECT_TIMEOUT,
    FINISHED,
    FRAME_FILES,
    FRAMES_CONFIG,
    IMAGE_CONFIG,
    OVERFLOW_TASKS,
    READ_TIMEOUT,
    REPLACED_RUNNING,
    SETTLE_SECONDS,
    Cancelled,
    Click,
    MediaRequest,
    Run,
    Samples,
)
from bench.load_test_report import report  # noqa: E402
from tests.media_server import MediaServer  # noqa: E402

# --- tasks and regions, as Label Studio sends them -------------------------------------------


def keypoint(x: float, y: float, *, to_name: str, page: int | None = None) -> dict[str, Any]:
    region: dict[str, Any] = {
        "id": f"k{x:.0f}-{y:.0f}",
        "from_name": "click",
        "to_name": to_name,
        "type": "keypointlabels",
        "value": {"x": x, "y": y, "keypointlabels": ["car"]},
    }
    if page is not None:
        region["item_index"] = page
    return region


def frames_task(task_id: int, *, pages: int, media: str, probe: bool = False) -> dict[str, Any]:
    """A frame sequence whose frames are URLs of its own (the query names task and page). A
    probe's last frame is on a route that always stalls."""
    urls = [
        f"{media}/{'stall' if probe and page == pages - 1 else 'media'}/"
        f"{(task_id + page) % FRAME_FILES:05d}.jpg?task={task_id}&page={page}"
        for page in range(pages)
    ]
    annotation = {"id": task_id, "result": [keypoint(40, 50, to_name="frames", page=0)]}
    return {"id": task_id, "data": {"frames": urls}, "annotations": [annotation]}


# --- annotators ------------------------------------------------------------------------------


def annotate(
    backend: Backend, number: int, *, media: str, args: argparse.Namespace, stop: threading.Event
) -> list[Click]:
    """One annotator: images one after another, a few clicks on each, thinking in between."""
    rng = random.Random(number)
    clicks: list[Click] = []
    image = 0
    while not stop.is_set():
        frame = (number * 7 + image) % FRAME_FILES
        url = f"{media}/media/{frame:05d}.jpg?annotator={number}&image={image}"
        task = {"id": 100_000 + number * 1000 + image, "data": {"image": url}}
        for index in range(args.clicks_per_image):
            context = {
                "result": [keypoint(rng.uniform(10, 90), rng.uniform(10, 90), to_name="image")]
            }
            clicks.append(one_click(backend, task, context, url=url, first=index == 0))
            if clicks[-1].status != 200 or stop.wait(args.think * rng.uniform(0.5, 1.5)):
                break  # an image that does not load is skipped, as an annotator would
        image += 1
    return clicks


def one_click(
    backend: Backend, task: dict[str, Any], context: object, *, url: str, first: bool
) -> Click:
    started = time.monotonic()
    try:
        response = backend.predict([task], IMAGE_CONFIG, context)
    except requests.RequestException:
        return Click(url, first, started, time.monotonic() - started, None, False)
    seconds = time.monotonic() - started
    try:
        json_error = isinstance(response.json().get("error"), str)
    except ValueError:
        json_error = False
    return Click(url, first, started, seconds, response.status_code, json_error)


# --- cancelling a job stuck downloading ------------------------------------------------------


def cancel_stuck_jobs(
    backend: Backend, media: StallingMedia, *, count: int, stop: threading.Event
) -> list[Cancelled]:
    """Cancel the cancel probes (tasks 1 to `count`) once each is caught running, waiting on
    its stalled frame for over a second."""
    done: list[Cancelled] = []
    while len(done) < count and not stop.wait(0.2):
        for view in backend.jobs("running"):
            stall = media.open_stall(int(view["task"]), older_than=1.0)
            if stall is not None and int(view["task"]) <= count:
                done.append(cancel_and_time(backend, view["id"], stall))
                break
    return done


def cancel_and_time(backend: Backend, job_id: str, stall: MediaRequest) -> Cancelled:
    started = time.monotonic()
    backend.call("POST", f"/jobs/{job_id}/cancel")
    state, to_state = "running", None
    while time.monotonic() - started < 30:
        state = backend.job(job_id)["state"]
        if state in FINISHED:
            to_state = time.monotonic() - started
            break
        time.sleep(0.02)
    to_next = None
    while time.monotonic() - started < 30:
        if any(view["id"] != job_id for view in backend.jobs("running")):
            to_next = time.monotonic() - started
            break
        time.sleep(0.05)
    to_hang_up = None if stall.ended is None else stall.ended - started
    return Cancelled(job_id, state, to_state, to_hang_up, to_next)


# --- sampling memory and the queue -----------------------------------------------------------


def sample(backend: Backend, samples: Samples, stop: threading.Event) -> None:
    """RSS every 0.5 s; queued and running jobs from /metrics every second."""
    tick, started = 0, time.monotonic()
    while not stop.wait(0.5):
        samples.rss_mib.append((time.monotonic() - started, backend.memory_mib()))
        tick += 1
        if tick % 2:
            continue
        text = backend.call("GET", "/metrics").text
        for state, into in (("queued", samples.queued), ("running", samples.running)):
            match = re.search(rf'labelme_sam2_jobs{{state="{state}"}} (\d+)', text)
            into.append(int(match.group(1)) if match else -1)


# --- the run ---------------------------------------------------------------------------------


def warm_up(backend: Backend, run: Run, media: str) -> None:
    """A click and a one-task job on media that never stalls: the model's first passes and
    Python's imports are in the baseline RSS. What the click adds is one click's working
    memory (and one-off set-up: an overestimate)."""
    run.rss_loaded = backend.memory_mib()
    task = {"id": 99_999, "data": {"image": f"{media}/warm/00000.jpg"}}
    answer = backend.predict([task], IMAGE_CONFIG, {"result": [keypoint(50, 50, to_name="image")]})
    assert answer.status_code == 200, answer.text
    run.rss_click = backend.memory_mib() - run.rss_loaded
    job_task = frames_task(0, pages=2, media=media)
    job_task["data"]["frames"] = [f"{media}/warm/{i:05d}.jpg?task=0" for i in range(2)]
    (job_id,) = backend.predict([job_task], FRAMES_CONFIG).json()["jobs"]
    while backend.job(job_id)["state"] not in FINISHED:
        time.sleep(0.2)
    run.rss_warm = backend.memory_mib()


def queue_batches(backend: Backend, run: Run, args: argparse.Namespace, media: str) -> None:
    tasks = [
        frames_task(i, pages=args.pages, media=media, probe=i <= args.cancels + 1)
        for i in range(1, args.tasks + 1)
    ]
    started = time.monotonic()
    answer = backend.predict(tasks, FRAMES_CONFIG)
    queued = len(answer.json().get("jobs", [])) if answer.status_code == 200 else 0
    run.batch = (answer.status_code, queued, time.monotonic() - started)
    more = range(args.tasks + 1, args.tasks + 1 + OVERFLOW_TASKS)
    answer = backend.predict(
        [frames_task(i, pages=args.pages, media=media) for i in more], FRAMES_CONFIG
    )
    error = answer.json().get("error", "") if answer.status_code != 200 else ""
    run.overflow = (answer.status_code, "LABELME_SAM2_MAX_QUEUED_JOBS" in str(error))
    answer = backend.predict(tasks[-args.resend :], FRAMES_CONFIG)
    run.resend = (answer.status_code, len(answer.json().get("jobs", [])))


def click_phase(
    backend: Backend, media_host: StallingMedia, run: Run, args: argparse.Namespace, media: str
) -> None:
    stop = threading.Event()
    results: list[list[Click]] = [[] for _ in range(args.annotators)]
    cancels: list[Cancelled] = []

    def annotator(number: int) -> None:
        results[number] = annotate(backend, number, media=media, args=args, stop=stop)

    def watcher() -> None:
        cancels.extend(cancel_stuck_jobs(backend, media_host, count=args.cancels, stop=stop))

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(args.annotators)]
    threads.append(threading.Thread(target=watcher))
    started, run.click_monotonic = time.time(), time.monotonic()
    for thread in threads:
        thread.start()
    stop.wait(SETTLE_SECONDS)  # the clicks first: the batch arrives on a busy backend
    queue_batches(backend, run, args, media)
    stop.wait(max(0.0, args.seconds - (time.time() - started)))
    stop.set()
    for thread in threads:  # a click on a stalled image ends within the read timeout
        thread.join()
    run.click_phase = (started, time.time())
    run.clicks = [click for clicks in results for click in clicks]
    run.cancels = cancels


def jobs_alone(backend: Backend, run: Run, args: argparse.Namespace, media: str) -> None:
    """The queue alone for --jobs-seconds after the clicks; meanwhile up to REPLACED_RUNNING
    tasks are sent again while their job runs, as Label Studio does when an annotation
    changes: the running job is replaced (it stops at its next frame) and must not write."""
    started = time.time()
    while time.time() - started < args.jobs_seconds:
        running = backend.jobs("running")
        view = running[0] if running else None
        replaced_already = {job for job, _ in run.replaced}
        if len(run.replaced) < REPLACED_RUNNING and view and view["id"] not in replaced_already:
            task = frames_task(int(view["task"]), pages=args.pages, media=media)
            answer = backend.predict([task], FRAMES_CONFIG)
            run.replaced.append((view["id"], answer.status_code))
        time.sleep(0.1)
    run.alone_phase = (started, time.time())


def drain(backend: Backend) -> float:
    """Cancel every job left (queued, then running); seconds until none runs."""
    started = time.monotonic()
    for state in ("queued", "running"):
        for view in backend.jobs(state):
            backend.call("POST", f"/jobs/{view['id']}/cancel")  # 409 if it just finished
    while backend.jobs("running") and time.monotonic() - started < 120:
        time.sleep(0.1)
    return time.monotonic() - started


def run_load_test(args: argparse.Namespace, folder: Path) -> Run:
    run = Run()
    frames = {p.name: p.read_bytes() for p in sorted(BEDROOM.glob("*.jpg"))[:FRAME_FILES]}
    with MediaServer() as server, FakeLabelStudio() as label_studio:
        media_host = StallingMedia(server, frames, every=args.stall_every)
        for name, body in frames.items():
            server.serve(f"/warm/{name}", body)
        backend = Backend(folder, args, label_studio.url)
        samples_stop = threading.Event()
        with backend.running():
            run.model_version = backend.call("GET", "/health").json()["model_version"]
            warm_up(backend, run, server.origin)
            sampler = threading.Thread(target=sample, args=(backend, run.samples, samples_stop))
            sampler.start()
            click_phase(backend, media_host, run, args, server.origin)
            jobs_alone(backend, run, args, server.origin)
            run.drain_seconds = drain(backend)
            run.jobs = backend.jobs()
            run.rss_end = backend.memory_mib()
            run.rss_peak = backend.memory_mib("VmHWM")
            samples_stop.set()
            sampler.join()
        run.media = media_host.snapshot()
        run.partials_left = len(list(backend.cache.glob(".part-*")))
        log = backend.log_path.read_text(errors="replace")
        run.log_bugs = log.count("Traceback") + log.count("bug while serving")
        run.statuses = backend.statuses
        run.label_studio = label_studio
    return run


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--pages", type=int, default=2, help="frames per queued task")
    parser.add_argument("--jobs-seconds", type=float, default=30.0, help="jobs alone, after")
    parser.add_argument("--clicks-per-image", type=int, default=3)
    parser.add_argument("--think", type=float, default=3.0, help="seconds between clicks")
    parser.add_argument("--stall-every", type=int, default=10)
    parser.add_argument("--cancels", type=int, default=3)
    parser.add_argument("--resend", type=int, default=50)
    parser.add_argument("--feature-cache-mb", type=int, default=256)
    parser.add_argument("--media-cache-mb", type=int, default=256)
    parser.add_argument("--max-media-mb", type=int, default=16)
    parser.add_argument("--request-margin-mb", type=int, default=128)
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=None,
        help="MALLOC_ARENA_MAX for the server (default: the environment's)",
    )
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--checkpoint", default="random")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (its log)")
    args = parser.parse_args()
    args.resend = min(args.resend, args.tasks)
    args.cancels = min(args.cancels, args.tasks - 1)  # the task after them times out
    return args


def load_average() -> str:
    """The machine's 1-minute load: what else ran beside the test."""
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    args = parse_args()
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="labelme-sam2-load-"))
    started = time.monotonic()
    try:
        run = run_load_test(args, folder)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} {platform.node() or 'host'} ({os.cpu_count()} "
        f"cores), {time.monotonic() - started:.0f} s in all; download timeouts: connect "
        f"{CONNECT_TIMEOUT:g} s, read {READ_TIMEOUT:g} s; load average {load_before} before, "
        f"{load_average()} after\n"
    )
    sys.exit(0 if report(run, args) else 1)


if __name__ == "__main__":
    main()
