"""The web page in a real headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by selenium)
against a real ``speechdl serve``: upload the sample, see the VAD segments, the ASR transcript, the
speaker verdict and the keyword events; record from a (fake) microphone; stream live over the WebSocket.

``SPEECHDL_SCREENSHOT=docs/web_page.png`` also writes the screenshot committed in ``docs/``.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.serve.conftest import SAMPLE, pipeline_or_skip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="Debian chromium + chromium-driver not installed (make system installs them)")]


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1250",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--mute-audio"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def open_model(browser, url, name):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{url}/#model={name}")
    browser.refresh()   # the hash alone does not reload
    WebDriverWait(browser, 120).until(lambda d: d.execute_script("return document.body.dataset.state") == "ready")
    assert browser.find_element("id", "model").get_attribute("value") == name


def run_and_wait(browser):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "run").is_enabled())
    browser.find_element("id", "run").click()
    WebDriverWait(browser, 300).until(
        lambda d: d.execute_script("return document.body.dataset.state") in ("done", "error"))
    assert browser.find_element("id", "error").text == ""
    assert browser.execute_script("return document.body.dataset.state") == "done"


def segments_text(result):
    return [f"{s['start']:.2f} – {s['end']:.2f} s" for s in result["segments"]]


def test_vad_segments_appear(browser, live_server):
    url, _ = live_server
    expected = pipeline_or_skip("vad").run(str(SAMPLE)).to_dict()
    open_model(browser, url, "vad")
    labels = [e.text for e in browser.find_elements("css selector", "#options label")]
    assert labels == ["threshold", "offset", "min_speech", "min_silence", "pad", "probabilities"]
    browser.find_element("id", "file-audio").send_keys(str(SAMPLE))
    browser.find_element("id", "opt-probabilities").click()
    run_and_wait(browser)
    shown = [e.find_element("css selector", ".t").text for e in browser.find_elements("css selector", "li.segment")]
    assert shown == segments_text(expected) and len(shown) == 4   # three lines, the last split at its comma
    shot = os.environ.get("SPEECHDL_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)


def test_asr_transcript_appears(browser, live_server):
    url, _ = live_server
    expected = pipeline_or_skip("asr").run(str(SAMPLE)).to_dict()
    open_model(browser, url, "asr")
    browser.find_element("id", "file-audio").send_keys(str(SAMPLE))
    run_and_wait(browser)
    assert browser.find_element("id", "transcript-text").text == expected["text"]
    rows = browser.find_elements("css selector", "#transcript li.seg-text")
    assert [r.text for r in rows] == [f"{s['start']:.2f}–{s['end']:.2f} s {s['text']}".strip()
                                      for s in expected["segments"]]


def test_verification_score_appears(browser, live_server):
    url, _ = live_server
    expected = pipeline_or_skip("speaker").run((str(SAMPLE), str(SAMPLE))).to_dict()
    open_model(browser, url, "speaker")
    browser.find_element("id", "file-audio").send_keys(str(SAMPLE))
    browser.find_element("id", "file-audio2").send_keys(str(SAMPLE))
    run_and_wait(browser)
    assert browser.find_element("id", "score").text == f"{expected['score']:.3f}"
    assert browser.find_element("id", "decision").text == str(expected["decision"])


def test_keyword_events_appear(browser, live_server):
    commands = SAMPLE.parent / "commands.flac"
    expected = pipeline_or_skip("kws").run(str(commands)).to_dict()
    open_model(browser, live_server[0], "kws")
    browser.find_element("id", "file-audio").send_keys(str(commands))
    run_and_wait(browser)
    shown = [e.text for e in browser.find_elements("css selector", "#events li.event")]
    assert shown == [f"{e['time']:.2f} s {e['keyword']} ({e['score']:.2f})" for e in expected["events"]]
    assert browser.find_element("id", "score").text == f"{expected['score']:.3f}"


def test_nearest_words_appear_for_a_text_query(browser, live_server):
    query = "king - man + woman"
    expected = pipeline_or_skip("word2vec").run(query, top=5).to_dict()
    open_model(browser, live_server[0], "word2vec")
    browser.find_element("id", "text").send_keys(query)
    top = browser.find_element("id", "opt-top")
    top.clear()
    top.send_keys("5")
    run_and_wait(browser)
    shown = [e.text for e in browser.find_elements("css selector", "#ranked-neighbours li")]
    assert shown == [f"{n['word']} {n['score']:.3f}" for n in expected["neighbours"]]
    shot = os.environ.get("SPEECHDL_SCREENSHOT_TEXT")
    if shot:
        browser.save_screenshot(shot)


def test_record_from_the_microphone_and_stream_live(browser, live_server):
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = live_server
    open_model(browser, url, "vad")
    rec = browser.find_element("id", "rec-audio")
    rec.click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "rec-audio").text == "Stop")
    time.sleep(1.5)   # let the fake microphone produce some audio (no assertion on time)
    rec.click()
    WebDriverWait(browser, 30).until(lambda d: "recording.wav" in d.find_element("id", "info-audio").text)
    run_and_wait(browser)
    assert browser.find_element("css selector", "#result .kv").text.splitlines()[0] == "file recording.wav"
    browser.find_element("id", "live").click()
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.body.dataset.state") == "streaming")
    browser.find_element("id", "live").click()
    assert browser.find_element("id", "error").text == ""
