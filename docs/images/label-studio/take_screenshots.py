"""Screenshots for docs/label-studio.md, taken in a real browser against a real Label Studio.

Starts Label Studio 1.23.2 (tests/label_studio_server.py, from .venv-label-studio) and
`labelme-sam2 serve` with SAM 2.1 tiny on CPU, makes a frame-sequence and a video project through
the API with a few prompts, retrieves the predictions, and photographs the pages in headless
Chromium with Playwright:

    python -m venv /tmp/shotvenv && /tmp/shotvenv/bin/pip install playwright
    # (plus this repository's requirements, or a .pth pointing at the project's venv)
    /tmp/shotvenv/bin/python docs/images/label-studio/take_screenshots.py

No `playwright install`: a system Chromium is used (--chromium, default /usr/bin/chromium).
Without --checkpoint the model has random weights (LABELME_SAM2_ALLOW_RANDOM_WEIGHTS=1), so the
propagated masks and boxes are meaningless blobs; only a brushed page comes back exactly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from labelme_sam2.formats.mask_codec import polygon_to_mask  # noqa: E402
from labelme_sam2.video.probe import probe_video  # noqa: E402
from tests.backend_process import BackendProcess  # noqa: E402
from tests.label_studio_server import (  # noqa: E402
    LabelStudioApi,
    LabelStudioServer,
)
from tests.ls_helpers import brush_region, video_keyframe  # noqa: E402

HERE = Path(__file__).resolve().parent
CONFIGS = REPO / "ls_backend" / "label_configs"
SHARED = REPO.parent / "shared" / "data"
PAGES = 6
WIDTH, HEIGHT = 1400, 900
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The pink pillow on bedroom frame 00001.jpg (960 x 540), brushed on page 2 (item_index 1).
PILLOW = [(540.0, 292.0), (678.0, 305.0), (668.0, 412.0), (530.0, 408.0)]


@dataclass
class Stack:
    server: LabelStudioServer
    api: LabelStudioApi
    backend_url: str


@dataclass
class Projects:
    frames_project: int
    frames_task: int
    video_project: int
    video_task: int


def local(path: str) -> str:
    return f"/data/local-files/?d={path}"


def make_media(root: Path, frames: Path, video: Path) -> Path:
    """6 frames in media/bedroom/, one video in media/video/ (copies: the sources stay as
    they are)."""
    (root / "bedroom").mkdir(parents=True)
    (root / "video").mkdir()
    for index in range(PAGES):
        shutil.copyfile(frames / f"{index:05d}.jpg", root / "bedroom" / f"{index:05d}.jpg")
    shutil.copyfile(video, root / "video" / video.name)
    return root


@contextmanager
def running_stack(tmp: Path, media: Path, args: argparse.Namespace) -> Iterator[Stack]:
    # A 300-frame video on CPU takes longer than Label Studio's default 100 s.
    os.environ["ML_TIMEOUT_PREDICT"] = "900"
    with (
        LabelStudioServer(tmp / "ls", document_root=media) as server,
        BackendProcess(
            server,
            tmp,
            executable=args.labelme_sam2,
            checkpoint=args.checkpoint,
            image_size=args.image_size,
        ) as backend,
    ):
        yield Stack(server=server, api=LabelStudioApi(server, timeout=900), backend_url=backend.url)


def wait_for_prediction(api: LabelStudioApi, task_id: int, timeout: float = 1800) -> bool:
    """Frame sequences and videos are background jobs: their prediction comes when done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.predictions(task_id):
            return True
        time.sleep(2)
    return False


def frame_sequence_project(stack: Stack, media: Path) -> tuple[int, int]:
    config = (CONFIGS / "frame_sequence.xml").read_text()
    config = config.replace('"car', '"girl').replace('"person', '"pillow')
    api = stack.api
    project = api.create_project("Bedroom frames", config)
    api.connect_ml_backend(project, stack.backend_url)
    # Label Studio serves /data/local-files only under a local storage of the project; the
    # regex matches no file, so the storage makes no tasks of its own.
    api.add_local_storage(project, media / "bedroom", regex=r"^$")
    urls = [local(f"bedroom/{index:05d}.jpg") for index in range(PAGES)]
    api.import_tasks(project, [{"data": {"frames": urls}}])
    (task,) = api.tasks(project)
    pillow = polygon_to_mask(PILLOW, width=960, height=540)
    api.create_annotation(
        task["id"],
        [
            brush_region("pillow", 1, pillow),
            {
                "id": "girl0",
                "from_name": "box",
                "to_name": "frames",
                "type": "rectanglelabels",
                "item_index": 0,
                "origin": "manual",
                "original_width": 960,
                "original_height": 540,
                "value": {"x": 32, "y": 1, "width": 22, "height": 72, "rectanglelabels": ["girl"]},
            },
            {
                "id": "girl4",
                "from_name": "click",
                "to_name": "frames",
                "type": "keypointlabels",
                "item_index": 4,
                "origin": "manual",
                "original_width": 960,
                "original_height": 540,
                "value": {"x": 40, "y": 56, "width": 1, "keypointlabels": ["girl"]},
            },
        ],
    )
    api.retrieve_predictions(project, [task["id"]])
    if not wait_for_prediction(api, task["id"]):
        raise RuntimeError("the frame-sequence task got no prediction")
    return project, int(task["id"])


def video_project(stack: Stack, media: Path, video: Path) -> tuple[int, int]:
    info = probe_video(video)
    config = (CONFIGS / "video.xml").read_text()
    config = config.replace('frameRate="30"', f'frameRate="{info.fps:.5f}"')
    config = config.replace('"car"', '"cup"').replace('"person"', '"ball"')
    # A lower player leaves room for the timeline in a 900 px high window.
    config = config.replace('<Video name="video"', '<Video height="360" name="video"')
    api = stack.api
    project = api.create_project("Cups video", config)
    api.connect_ml_backend(project, stack.backend_url)
    api.add_local_storage(project, media / "video", regex=r".*\.mp4")
    (task,) = api.tasks(project)

    def keyframe(frame: int, box: tuple[float, float, float, float]) -> dict[str, Any]:
        return video_keyframe(frame, box, fps=info.fps)

    def region(name: str, label: str, keyframes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": name,
            "from_name": "box",
            "to_name": "video",
            "type": "videorectangle",
            "origin": "manual",
            "value": {"sequence": keyframes, "labels": [label], "framesCount": info.frame_count},
        }

    api.create_annotation(
        task["id"],
        [
            # The middle cup on frame 1, and where it is after the first shuffle (frame 61).
            region(
                "cup1",
                "cup",
                [keyframe(1, (45.0, 40.0, 12.0, 36.0)), keyframe(61, (24.0, 38.5, 13.0, 36.0))],
            ),
            region(
                "ball1",
                "ball",
                [keyframe(1, (28.4, 59.5, 5.5, 10.0)), keyframe(300, (54.5, 72.0, 6.0, 10.5))],
            ),
        ],
    )
    api.retrieve_predictions(project, [task["id"]])
    if not wait_for_prediction(api, task["id"]):
        raise RuntimeError("the video task got no prediction")
    return project, int(task["id"])


def log_in(page: Page, stack: Stack) -> None:
    page.goto(stack.server.url + "/user/login/")
    page.fill('input[name="email"]', stack.server.username)
    page.fill('input[name="password"]', stack.server.password)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda address: "/user/login" not in address, timeout=60_000)


def settle(page: Page, seconds: float = 2.0) -> None:
    """Lets the page finish loading and its canvases draw."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(int(seconds * 1000))
    page.mouse.move(WIDTH // 2, HEIGHT - 20)  # no hover tooltips in the shot
    page.wait_for_timeout(500)


def open_prediction(page: Page, url: str, project: int, task: int) -> None:
    """The task in the Data Manager's labeling view, with the prediction's tab selected."""
    page.goto(f"{url}/projects/{project}/data?task={task}")
    page.locator(".lsf-image img, video").first.wait_for(state="attached", timeout=60_000)
    settle(page, 3.0)
    page.get_by_text("sam2.1_h", exact=False).first.click()  # the prediction's tab
    settle(page, 2.0)


def next_page(page: Page) -> None:
    arrow = ".lsf-pagination__btn_arrow-right:not(.lsf-pagination__btn_arrow-right-double)"
    page.locator(arrow).first.click()
    settle(page, 2.5)


def take_shots(stack: Stack, projects: Projects, out: Path, chromium: str) -> list[Path]:
    shots: list[Path] = []
    url = stack.server.url

    def shoot(page: Page, name: str) -> None:
        shots.append(out / name)
        page.screenshot(path=shots[-1])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        log_in(page, stack)

        # Project settings -> Model: the connected backend's card.
        page.goto(f"{url}/projects/{projects.frames_project}/settings/ml")
        page.get_by_text("labelme-sam2").first.wait_for()
        settle(page)
        shoot(page, "model-settings.png")
        # Its "..." menu -> Edit: the connection form with "Interactive preannotations".
        page.locator("button.look-string--_Ha35").first.click()
        page.get_by_text("Edit", exact=True).first.click()
        page.get_by_text("Interactive preannotations").first.wait_for()
        page.get_by_text("Edit Model", exact=True).first.click()  # closes the card's menu
        settle(page, 1.0)
        shoot(page, "model-connection.png")

        # Data Manager: the task selected, its tasks menu open (Retrieve Predictions).
        page.goto(f"{url}/projects/{projects.frames_project}/data")
        select = page.locator(f'[aria-label="Select Task {projects.frames_task}"]')
        select.wait_for()
        settle(page)
        select.click()
        page.get_by_text("1 Task", exact=True).first.click()
        page.get_by_text("Retrieve Predictions").first.wait_for()
        page.wait_for_timeout(800)
        shoot(page, "data-manager-actions.png")

        # The frame sequence's prediction: page 3 with every region (the masks propagated
        # by random weights are blobs) ...
        open_prediction(page, url, projects.frames_project, projects.frames_task)
        next_page(page)
        next_page(page)
        shoot(page, "frame-sequence-page3.png")
        # ... and page 2, the brushed one, with the girl's regions hidden: the pillow as brushed.
        page.get_by_text("Manual", exact=True).first.click()
        page.get_by_text("Group by Label", exact=True).first.click()
        girl = page.locator(".lsf-tree__node_type_label", has_text="girl").first
        girl.hover()
        girl.locator(".lsf-outliner-item__control_type_visibility button").click()
        page.locator(
            ".lsf-pagination__btn_arrow-left:not(.lsf-pagination__btn_arrow-left-double)"
        ).first.click()
        settle(page, 2.5)
        shoot(page, "frame-sequence-page2.png")

        # The video's prediction: a track per region, a keyframe on every frame.
        open_prediction(page, url, projects.video_project, projects.video_task)
        page.locator(".lsf-video-segmentation, [class*=timeline]").first.wait_for()
        settle(page, 3.0)
        shoot(page, "video-tracks.png")

        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where the PNGs go")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--frames", type=Path, default=SHARED / "frames" / "bedroom")
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "02_cups.mp4")
    parser.add_argument(
        "--labelme-sam2",
        default=shutil.which("labelme-sam2") or str(Path(sys.executable).with_name("labelme-sam2")),
    )
    parser.add_argument("--checkpoint", default="random")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument(
        "--hold", action="store_true", help="keep both servers running after the shots"
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: both servers are stopped and the temp folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ls-shots-") as name:
        tmp = Path(name)
        media = make_media(tmp / "media", args.frames, args.video)
        with running_stack(tmp, media, args) as stack:
            frames_project, frames_task = frame_sequence_project(stack, media)
            print(f"Label Studio {stack.server.url}: frame sequence in project {frames_project}")
            video_project_id, video_task = video_project(stack, media, args.video)
            projects = Projects(frames_project, frames_task, video_project_id, video_task)
            print(f"Label Studio {stack.server.url} ({stack.server.username}), {projects}")
            try:
                for shot in take_shots(stack, projects, args.out, args.chromium):
                    print(shot)
            finally:
                if args.hold:
                    hold()


def hold() -> None:
    print("holding; Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
