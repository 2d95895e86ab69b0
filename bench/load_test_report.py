"""The load test's report: the figures as Markdown rows, and a PASS/FAIL row per claim."""

from __future__ import annotations

import argparse
import collections
import itertools
import math
import os
import statistics
from urllib.parse import urlsplit

from bench.load_test_records import (
    CANCEL_CLAIM,
    GAP_CLAIM,
    OVERFLOW_TASKS,
    READ_TIMEOUT,
    TIMING_MARGIN,
    Cancelled,
    Click,
    MediaRequest,
    Run,
)

# --- figures and claims ----------------------------------------------------------------------


def arenas(args: argparse.Namespace) -> int:
    """malloc arenas the server may use: MALLOC_ARENA_MAX, else glibc's 8 per core (64-bit)."""
    setting = args.malloc_arena_max or os.environ.get("MALLOC_ARENA_MAX")
    return int(setting) if setting else 8 * (os.cpu_count() or 1)


def memory_bound(run: Run, args: argparse.Namespace) -> float:
    """MiB the server's RSS must stay under: the warm server, its feature cache full, each
    malloc arena keeping one click's working memory (the model runs one pass at a time, so an
    arena's peak is one pass; freed memory stays in the arena), and --request-margin-mb for
    the requests in flight (bodies, decoded images, masks, answers) and the job list."""
    return (
        run.rss_warm
        + args.feature_cache_mb
        + arenas(args) * max(run.rss_click, 0.0)
        + args.request_margin_mb
    )


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return (
        f"p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s "
        f"(n = {len(ordered)})"
    )


def classify(run: Run) -> tuple[list[Click], list[Click]]:
    """(clicks on good media, first clicks on an image whose download stalled)."""
    stalled = {record.url for record in run.media if record.stall}
    bad = [c for c in run.clicks if c.first and _path_and_query(c.url) in stalled]
    good = [c for c in run.clicks if c not in bad]
    return good, bad


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def report(run: Run, args: argparse.Namespace) -> bool:
    """Print the figures and the claims; True when every claim holds."""
    good, bad = classify(run)
    rows = [*_click_rows(run, args, good, bad), *_job_rows(run, args), *_server_rows(run, args)]
    print("| what | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")
    claims = _claims(run, args, good=good, bad=bad)
    print("\n| claim | result |\n| --- | --- |")
    for name, passed in claims:
        print(f"| {name} | {'PASS' if passed else 'FAIL'} |")
    return all(passed for _, passed in claims)


def _click_rows(
    run: Run, args: argparse.Namespace, good: list[Click], bad: list[Click]
) -> list[tuple[str, str]]:
    return [
        ("model", f"{run.model_version} on {args.device} (`labelme-sam2 serve`, embedded queue)"),
        (
            "load",
            f"{args.annotators} annotators x {args.seconds:.0f} s, {args.clicks_per_image} "
            f"clicks per image, think {args.think:g} s +-50%; {args.tasks} tasks x "
            f"{args.pages} pages queued; every {args.stall_every}th media request stalls",
        ),
        ("media requests", f"{len(run.media)}, {sum(bool(r.stall) for r in run.media)} stalled"),
        (
            "clicks on good media",
            f"{sum(c.status == 200 for c in good)} of {len(good)} answered "
            f"200; {spread([c.seconds for c in good])}",
        ),
        (
            "- answered while a stalled download was open; longest time without an answer",
            f"{during_stalls(good, run.media)}; {longest_gap(good, run.click_monotonic):.2f} s",
        ),
        (
            "- first click on an image (download + encoder)",
            spread([c.seconds for c in good if c.first]),
        ),
        (
            "- first click: from sending it to the media host seeing its download",
            spread(fetch_delays(good, run.media)),
        ),
        ("- later clicks (features cached)", spread([c.seconds for c in good if not c.first])),
        (
            "clicks on stalled media",
            f"{_statuses(bad)}; answered after {spread([c.seconds for c in bad])}",
        ),
    ]


def _job_rows(run: Run, args: argparse.Namespace) -> list[tuple[str, str]]:
    stalled_jobs = _stalled_failures(run)
    return [
        ("batch /predict", f"{run.batch[0]}, {run.batch[1]} jobs queued in {run.batch[2]:.2f} s"),
        (
            f"{OVERFLOW_TASKS} tasks more past the cap",
            f"{run.overflow[0]}{' (names the setting)' * run.overflow[1]}; "
            f"{sum(j['task'] > args.tasks for j in run.jobs)} of them queued before it",
        ),
        (
            f"{args.resend} tasks sent again",
            f"{run.resend[0]}, {run.resend[1]} jobs replace theirs",
        ),
        (
            "queued jobs (sampled each second)",
            f"max {max(run.samples.queued, default=-1)}, cap {args.tasks}",
        ),
        ("jobs finished during the clicks", _finished_text(run, *run.click_phase)),
        ("jobs done: start to finish", spread(_durations(run, "done"))),
        ("jobs failed on stalled media", f"{len(stalled_jobs)}, after {spread(stalled_jobs)}"),
        *[
            (f"cancel of a job downloading a stalled frame #{i + 1}", _cancel_text(c))
            for i, c in enumerate(run.cancels)
        ],
        (
            f"after the clicks, jobs alone for {run.alone_phase[1] - run.alone_phase[0]:.0f} s",
            _finished_text(run, *run.alone_phase),
        ),
        ("tasks sent again while their job ran", _replaced_text(run)),
        ("cancel every job left", f"{run.drain_seconds:.1f} s until none runs"),
    ]


def _server_rows(run: Run, args: argparse.Namespace) -> list[tuple[str, str]]:
    return [
        (
            "server RSS",
            f"{run.rss_loaded:.0f} MiB model loaded, {run.rss_warm:.0f} MiB warm, "
            f"peak {run.rss_peak:.0f} MiB (VmHWM), {run.rss_end:.0f} MiB at the end; "
            f"bound {memory_bound(run, args):.0f} MiB = warm + {args.feature_cache_mb} feature "
            f"cache + {arenas(args)} malloc arenas x {run.rss_click:.0f} (the first click) + "
            f"{args.request_margin_mb}",
        ),
        ("server RSS over the run", _rss_course(run.samples.rss_mib)),
        ("writes", _writes_text(run)),
        ("answers", ", ".join(f"{n} x {s}" for s, n in sorted(run.statuses.items()))),
    ]


def _claims(
    run: Run, args: argparse.Namespace, *, good: list[Click], bad: list[Click]
) -> list[tuple[str, bool]]:
    limit = READ_TIMEOUT + TIMING_MARGIN
    bound = memory_bound(run, args)
    stalled_jobs = _stalled_failures(run)
    writes = _write_checks(run)
    return [
        (
            f"clicks on good media keep answering while jobs run: all 200, never "
            f"{GAP_CLAIM:g} s without one answered",
            bool(good)
            and all(c.status == 200 for c in good)
            and longest_gap(good, run.click_monotonic) < GAP_CLAIM
            and max(run.samples.running, default=0) > 0,
        ),
        (
            f"stalled media fails within the timeout: clicks 4xx JSON within {limit:g} s, jobs "
            f"failed within {limit:g} s",
            bool(bad)
            and all(
                c.status is not None
                and 400 <= c.status < 500
                and c.json_error
                and c.seconds <= limit
                for c in bad
            )
            and bool(stalled_jobs)
            and all(s <= limit for s in stalled_jobs),
        ),
        (
            f"the queue stays bounded: at most {args.tasks} queued, 503 past it",
            run.batch[:2] == (200, args.tasks)
            and run.overflow == (503, True)
            and run.resend == (200, args.resend)
            and max(run.samples.queued, default=0) <= args.tasks,
        ),
        (f"server memory under {bound:.0f} MiB", run.rss_peak <= bound),
        (
            f"cancel stops a downloading job within {CANCEL_CLAIM:g} s",
            bool(run.cancels) and all(_cancel_ok(c) for c in run.cancels),
        ),
        (
            "nothing written twice: " + "; ".join(name for name, _ in writes),
            all(ok for _, ok in writes),
        ),
        (
            "no 5xx, no hang, no traceback in the log",
            _unexpected_5xx(run) == 0
            and all(c.status is not None for c in run.clicks)
            and run.log_bugs == 0,
        ),
    ]


def _unexpected_5xx(run: Run) -> int:
    """5xx answers but the overflow probe's 503."""
    errors = sum(n for status, n in run.statuses.items() if status >= 500)
    return errors - (run.overflow[0] == 503)


def _write_checks(run: Run) -> list[tuple[str, bool]]:
    label_studio = run.label_studio
    assert label_studio is not None
    created = label_studio.created
    per_task = collections.Counter(task for task, _ in created)
    done = {(j["task"], j["prediction_id"]) for j in run.jobs if j["state"] == "done"}
    done_per_task = collections.Counter(task for task, written in done if written)
    written_by_others = [j for j in run.jobs if j["state"] != "done" and j["prediction_id"]]
    live = collections.Counter(p["task"] for p in label_studio.live.values())
    served = collections.Counter(r.url for r in run.media if not r.stall)
    return [
        (
            "each prediction is one done job's",
            set(created) == {d for d in done if d[1]} and len(created) == len(set(created)),
        ),
        (
            "no task written more often than a job of it finished",
            all(n <= done_per_task[task] for task, n in per_task.items()),
        ),
        ("at most one prediction per task", max(live.values(), default=0) <= 1),
        ("no cancelled or failed job wrote", not written_by_others),
        ("no media downloaded twice", max(served.values(), default=0) <= 1),
        ("no partial download left", run.partials_left == 0),
    ]


def _writes_text(run: Run) -> str:
    label_studio = run.label_studio
    assert label_studio is not None
    per_task = collections.Counter(task for task, _ in label_studio.created)
    served = collections.Counter(r.url for r in run.media if not r.stall)
    return (
        f"{len(label_studio.created)} predictions created for {len(per_task)} tasks (most for "
        f"one task: {max(per_task.values(), default=0)}), {len(label_studio.deleted)} deleted; "
        f"{len(served)} media URLs served whole, most requests for one: "
        f"{max(served.values(), default=0)}; partial downloads left: {run.partials_left}"
    )


def _rss_course(samples: list[tuple[float, float]], parts: int = 6) -> str:
    """RSS at evenly spaced moments of the run: growth that levels off, or does not."""
    if not samples:
        return "no samples"
    picked = [samples[min(len(samples) - 1, len(samples) * k // parts)] for k in range(1, parts)]
    return ", ".join(f"{mib:.0f} MiB at {at:.0f} s" for at, mib in [*picked, samples[-1]])


def _replaced_text(run: Run) -> str:
    states = {view["id"]: view["state"] for view in run.jobs}
    ended = collections.Counter(
        f"{status}, old job {states.get(job, 'gone')}" for job, status in run.replaced
    )
    return ", ".join(f"{n} x {what}" for what, n in sorted(ended.items())) or "none"


def _durations(run: Run, state: str) -> list[float]:
    """Seconds from start to finish of the jobs that ended in `state` (the warm-up's aside)."""
    return [
        j["finished_at"] - j["started_at"]
        for j in run.jobs
        if j["state"] == state and j["started_at"] and j["task"] != 0
    ]


def _stalled_failures(run: Run) -> list[float]:
    """Seconds from start to failure of the jobs that failed on a stalled frame."""
    return [
        j["finished_at"] - j["started_at"]
        for j in run.jobs
        if j["state"] == "failed" and "did not answer" in (j["error"] or "")
    ]


def _finished_text(run: Run, start: float, end: float) -> str:
    """Jobs that finished between `start` and `end` (time.time()), by state."""
    ended = collections.Counter(
        j["state"] for j in run.jobs if j["finished_at"] and start <= j["finished_at"] <= end
    )
    return ", ".join(f"{n} {state}" for state, n in sorted(ended.items())) or "none"


def longest_gap(good: list[Click], start: float) -> float:
    """The longest time (s) the click phase went without a good click answered 200: what a
    server blocked by stalled downloads would show (a gap as long as the read timeout)."""
    answered = sorted(c.started + c.seconds for c in good if c.status == 200)
    moments = [start, *answered]
    return max((b - a for a, b in itertools.pairwise(moments)), default=float("inf"))


def fetch_delays(good: list[Click], media: list[MediaRequest]) -> list[float]:
    """For each first click, seconds from sending it to its media's request reaching the
    media host: how long the backend took to start the download."""
    requested = {r.url: r.started for r in media}
    return [
        requested[_path_and_query(c.url)] - c.started
        for c in good
        if c.first and _path_and_query(c.url) in requested
    ]


def during_stalls(good: list[Click], media: list[MediaRequest]) -> int:
    """Good clicks answered while a stalled download was open."""
    stalls = [(r.started, r.ended or math.inf) for r in media if r.stall]
    return sum(
        any(a <= c.started + c.seconds <= b for a, b in stalls) for c in good if c.status == 200
    )


def _statuses(clicks: list[Click]) -> str:
    counted = collections.Counter(
        "no answer" if c.status is None else f"{c.status}{' JSON' * c.json_error}" for c in clicks
    )
    return ", ".join(f"{n} x {s}" for s, n in sorted(counted.items())) or "none"


def _cancel_ok(cancel: Cancelled) -> bool:
    return (
        cancel.state == "cancelled"
        and cancel.to_state is not None
        and cancel.to_state <= CANCEL_CLAIM
        and cancel.to_hang_up is not None
        and cancel.to_hang_up <= CANCEL_CLAIM
    )


def _cancel_text(cancel: Cancelled) -> str:
    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.2f} s"

    return (
        f"{cancel.state} after {seconds(cancel.to_state)}, connection closed after "
        f"{seconds(cancel.to_hang_up)}, next job running after {seconds(cancel.to_next_job)}"
    )
