"""Drive a running Space in Debian's headless Chromium (through playwright), every tab, as a person would.

Used by tests/space/test_app.py (the repository's app) and tests/publish/test_space_staging.py (a staged Space in its
own virtualenv). The microphone is Chromium's fake capture device playing a WAV file.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("Debian's chromium is needed for the browser tests (apt-get install chromium; `make setup` does it)")
    return path


def _wait_value(locator, predicate, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    value = ""
    while time.monotonic() < deadline:
        value = locator.input_value()
        if predicate(value):
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:.0f} s; last value {value!r}")


def _upload(page, path: Path) -> None:
    """Put ``path`` into the visible tab's audio input and wait until the player shows it."""
    panel = page.locator("[role=tabpanel]:visible").first
    target = panel if panel.count() else page
    target.locator("input[type=file]").first.set_input_files(str(path))
    if path.suffix == ".wav" and path.stat().st_size > 1000:  # real audio: wait for the player
        target.locator("audio").first.wait_for(state="attached", timeout=30000)
    else:
        page.wait_for_timeout(1500)


def drive_space(url: str, names: list[str], classes: set[str], clips: Path, screenshots: Path) -> dict:
    """Every tab of the Space at ``url``: a clip, a silent clip and a non-audio file in the File tab; the fake
    microphone in the Live tab; a long clip in the Long-clip tab. Returns what the page showed; asserts on the way."""
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    with tempfile.TemporaryDirectory(prefix="ser_hf_chromium_") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True,
            args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                  f"--use-file-for-fake-audio-capture={clips / 'mic.wav'}"],
            viewport={"width": 1280, "height": 1100}, permissions=["microphone"],
        )
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        recognise = page.get_by_role("button", name="Recognise")
        recognise.wait_for(timeout=60000)
        assert "uploads up to" in page.content()  # the limits are stated in the UI

        # File tab: a clip gives one label per model and each model's time.
        labels = page.locator("[data-testid='label-output-value']")
        _upload(page, clips / "stereo_44k.wav")
        recognise.click()
        labels.nth(len(names) - 1).wait_for(timeout=60000)
        page.locator("#clip-times", has_text="ms").wait_for(timeout=30000)
        seen["file_labels"] = [labels.nth(i).inner_text().strip() for i in range(len(names))]
        seen["file_times"] = page.locator("#clip-times").inner_text()
        assert all(label in classes for label in seen["file_labels"]), seen
        assert all(f"{n}" in seen["file_times"] for n in names), seen
        page.screenshot(path=str(screenshots / "file_tab.png"), full_page=True)

        # A silent clip: every model shows "silence" and no model runs.
        page.get_by_role("button", name="Clear").first.click()
        _upload(page, clips / "silent.wav")
        recognise.click()
        page.locator("#clip-times", has_text="no model ran").wait_for(timeout=30000)
        assert [labels.nth(i).inner_text().strip() for i in range(len(names))] == ["silence"] * len(names)

        # A file that is not audio: a one-line error, no server path, no libsndfile wording.
        page.get_by_role("button", name="Clear").first.click()
        _upload(page, clips / "text.wav")
        recognise.click()
        toast = page.get_by_text("is not readable as audio")
        toast.first.wait_for(timeout=30000)
        seen["error"] = toast.first.inner_text()
        assert "/tmp" not in seen["error"] and "Error opening" not in seen["error"], seen["error"]

        # Live tab: Chromium's fake microphone plays mic.wav; windows are scored and a confidence is shown.
        page.get_by_role("tab", name="Live microphone").click()
        page.get_by_role("button", name="Record").first.click()
        seen["live"] = _wait_value(page.locator("#live-current textarea"), lambda v: "%" in v or "silence" in v, 60)
        seen["live_latency"] = page.locator("#live-latency textarea").input_value()
        page.screenshot(path=str(screenshots / "live_tab.png"), full_page=True)
        stop = page.get_by_role("button", name="Stop")
        if stop.count():
            stop.first.click()

        # Long-clip tab: the timeline plot, per-model distributions over voiced segments, the summary.
        page.get_by_role("tab", name="Long clip").click()
        _upload(page, clips / "long.wav")
        page.get_by_role("button", name="Analyse").click()
        seen["long_summary"] = _wait_value(page.locator("#long-summary textarea"), lambda v: "segments" in v, 90)
        page.locator("#long-plot img").first.wait_for(timeout=30000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(screenshots / "long_clip_tab.png"), full_page=True)
        context.close()
    return seen
