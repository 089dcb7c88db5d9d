"""The web interface in a real browser: Debian's headless Chromium driven by Selenium, against the
app served on a loopback socket. The microphone is Chromium's fake capture device, fed a consent
reading rendered straight by the heart engine (no studio, so no mark). A failing test leaves a
screenshot of the page in its temporary folder; every page visited is checked by axe-core."""
from __future__ import annotations

import base64
import functools
import re
import shutil
import socket
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from api.deps import UI_COOKIE
from tests.api.conftest import bearer
from tests.conftest import DATA, HUMAN_RECORDING
from tests.voicekit.test_enrollment import REFERENCE_TEXTS

AXE = DATA / "axe-core" / "axe.min.js"
SENTENCE = "Lanterns glowed along the quay while the ferry slipped out into the dark water."
# Nonce words heart reads reliably (tests/voicekit/test_enrollment.py); random ones are measured
# by bench/consent.py, and a test must not depend on which were drawn.
NONCE = ("harbor", "pencil", "tiger", "violin")


@pytest.fixture(scope="module")
def site(client):
    """The session's app (its lifespan already ran under TestClient) on a real loopback socket."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(client.app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def microphone(tmp_path_factory):
    """The file Chromium's fake microphone plays (read each time a recording starts)."""
    return tmp_path_factory.mktemp("microphone") / "mic.wav"


@pytest.fixture(scope="module")
def chromium(microphone):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}%noloop", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, site, request, tmp_path):
    """The module's browser, signed out; a screenshot of the page in tmp_path if the test failed."""
    chromium.delete_all_cookies()
    yield chromium
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        chromium.save_screenshot(str(tmp_path / f"{request.node.name}.png"))


@pytest.fixture(scope="module")
def fixed_nonce(service):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service.studio, "consent_challenge",
                      functools.partial(service.studio.consent_challenge, nonce=NONCE))
        yield


def wait_for(driver, condition, timeout_s: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(lambda d: condition(d))


def by_css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def sign_in(driver, site: str, secret: str) -> None:
    driver.get(f"{site}/ui/sign-in")
    by_css(driver, "#api_key").send_keys(secret)
    by_css(driver, "form[action='/ui/sign-in'] button").click()
    wait_for(driver, lambda d: "/ui/sign-in" not in d.current_url)
    assert_accessible(driver)


def assert_accessible(driver) -> None:
    """axe-core's WCAG 2 A/AA rules on the page as it is now: no serious or critical violation."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}).then(done);")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{driver.current_url}: {bad}"


def submitted_row(driver):
    """Submit the page's job form; the new job's row (the owner's earlier jobs are listed too)."""
    before = {r.get_attribute("data-job") for r in driver.find_elements("css selector", "#jobs tbody tr")}
    by_css(driver, "#job-form button").click()
    return wait_for(driver, lambda d: [r for r in d.find_elements("css selector", "#jobs tbody tr")
                                       if r.get_attribute("data-job") not in before])[0]


def speak(driver, text: str, voice: str | None = None) -> str:
    """Speak `text` on the speak page; the released audio's bytes (base64 of the data URI)."""
    from selenium.webdriver.support.ui import Select

    box = by_css(driver, "#text")
    box.clear()
    box.send_keys(text)
    if voice is not None:
        Select(by_css(driver, "#voice")).select_by_value(voice)
    by_css(driver, "#speak-form button").click()
    wait_for(driver, lambda d: d.find_elements("css selector", "#player, #error"))
    return by_css(driver, "#player").get_attribute("src")


def test_speak_plays_our_audio_and_highlights_each_word(browser, site, keys, service):
    sign_in(browser, site, keys["speak"])
    assert browser.current_url.endswith("/ui/speak")
    source = speak(browser, SENTENCE)
    header, data = source.split(",", 1)
    assert header == "data:audio/mpeg;base64"
    found = service.studio.detect(base64.b64decode(data))
    assert found.watermarked and f"{found.mark_id:08x}" == by_css(browser, "#mark-id").text
    assert found.provenance["voice"] == "heart"

    player = by_css(browser, "#player")
    browser.execute_script("arguments[0].play()", player)
    highlighted = []

    def spoken_word(driver):
        now = [e.text for e in driver.find_elements("css selector", "#words span.spoken")]
        highlighted.extend(w for w in now if not highlighted or highlighted[-1] != w)
        return len(set(highlighted)) >= 3

    wait_for(browser, spoken_word, timeout_s=20)
    words = SENTENCE.rstrip(".").split()
    assert set(highlighted) <= set(words) and highlighted[0] in words[:4]
    assert_accessible(browser)


def test_a_long_text_streams_and_starts_playing_before_it_is_all_spoken(browser, site, keys):
    sign_in(browser, site, keys["speak"])
    text = " ".join([SENTENCE, "The gulls had gone quiet over the harbour.", "Somewhere a bell rang twice, then stopped.",
                     "By midnight the last of the lights had gone out along the shore."])
    box = by_css(browser, "#text")
    box.send_keys(text)
    by_css(browser, "#stream").click()
    by_css(browser, "#speak-form button").click()
    state = wait_for(browser, lambda d: by_css(d, "#stream-state").text.startswith("All") and by_css(d, "#stream-state").text)
    heard = browser.execute_script("return window.voicekitStream")
    assert heard["pieces"] >= 2 and heard["startedAt"] is not None, heard  # played piece by piece
    assert heard["seconds"] > 10 and f"{heard['seconds']:.1f}" in state
    assert re.fullmatch(r"[0-9a-f]{8}", by_css(browser, "#stream-mark-id").text)
    assert browser.current_url.endswith("/ui/speak")  # the page stayed; nothing was posted as a form
    assert_accessible(browser)


def test_a_person_enrolls_with_the_microphone_speaks_and_revokes(browser, site, client, keys, service, microphone,
                                                                 fixed_nonce, tmp_path):
    sign_in(browser, site, keys["alice"])
    browser.get(f"{site}/ui/enroll")
    assert_accessible(browser)
    by_css(browser, "#person").send_keys("Mary Jones")
    by_css(browser, "#challenge-form button").click()
    phrase = wait_for(browser, lambda d: by_css(d, "#phrase").text)
    assert "Mary Jones" in phrase and all(word in phrase for word in NONCE)

    # The person reads the statement into the microphone: half a second of quiet on either side.
    engine = service.studio.engine("heart")
    quiet = np.zeros(engine.sample_rate // 2, np.float32)
    reading = np.concatenate([quiet, engine.synthesize(phrase), quiet])
    sf.write(microphone, reading, engine.sample_rate, subtype="PCM_16")
    consent = by_css(browser, "#consent-step .recorder")
    consent.find_element("css selector", ".record").click()
    wait_for(browser, lambda d: consent.find_element("css selector", ".stop").is_enabled())
    time.sleep(len(reading) / engine.sample_rate + 0.3)
    consent.find_element("css selector", ".stop").click()
    info = wait_for(browser, lambda d: "Recorded" in consent.text and consent.find_element("css selector", ".take-info").text)
    recorded_s = float(info.split()[1])
    assert abs(recorded_s - len(reading) / engine.sample_rate) < 1.0, info

    references = []
    for i, text in enumerate(REFERENCE_TEXTS):
        references.append(tmp_path / f"reference-{i}.wav")
        sf.write(references[-1], engine.synthesize(text), engine.sample_rate)
    by_css(browser, "#uploads").send_keys("\n".join(str(p) for p in references))
    by_css(browser, "#enroll").click()
    outcome = wait_for(browser, lambda d: by_css(d, "#outcome-text").text if not
                       by_css(d, "#outcome-text").text.startswith("Checking") else None, timeout_s=240)
    failures = [e.text for e in browser.find_elements("css selector", "#failures li")]
    assert outcome.startswith("Enrolled"), (outcome, failures)
    voice = outcome.rsplit(" ", 1)[1].rstrip(".")
    assert service.access.owns(service.access.authenticate(keys["alice"]), voice)
    by_css(browser, "#hear").click()
    wait_for(browser, lambda d: by_css(d, "#sample-audio").get_attribute("src").startswith("blob:"))
    assert_accessible(browser)

    # The new voice speaks on the speak page, and its audio names it.
    browser.get(f"{site}/ui/speak")
    source = speak(browser, SENTENCE, voice=voice)
    found = service.studio.detect(base64.b64decode(source.split(",", 1)[1]))
    assert found.watermarked and found.provenance["voice"] == voice

    # Another owner sees nothing of it (the pages answer as for a profile that does not exist).
    bob = {"Cookie": f"{UI_COOKIE}={keys['bob']}"}
    assert voice not in client.get("/ui/profiles", headers=bob).text
    assert client.get(f"/ui/profiles/{voice}", headers=bob).status_code == 404
    assert client.post(f"/ui/profiles/{voice}/revoke", data={"confirm": voice}, headers=bob).status_code == 404

    # Revoked with a confirmation, and refused from then on.
    browser.get(f"{site}/ui/profiles")
    by_css(browser, f"a[href='/ui/profiles/{voice}']").click()
    assert "Consent record" in browser.page_source
    assert_accessible(browser)
    by_css(browser, "form[action$='/revoke'] button").click()
    by_css(browser, "#confirm").send_keys(voice)
    by_css(browser, "#reason").send_keys("the narrator withdrew")
    by_css(browser, "form[action$='/revoke'] button").click()
    wait_for(browser, lambda d: by_css(d, "#status").text.startswith("revoked"))
    browser.get(f"{site}/ui/speak")
    assert voice not in [o.get_attribute("value") for o in browser.find_elements("css selector", "#voice option")]
    refused = client.post("/v1/speech", headers=bearer(keys["alice"]), json={"text": SENTENCE, "voice": voice})
    assert refused.status_code in (403, 404, 410), refused.text


def test_an_audiobooks_progress_reaches_100_percent(browser, site, client, keys, tmp_path):
    sign_in(browser, site, keys["speak"])
    browser.get(f"{site}/ui/audiobooks")
    assert_accessible(browser)
    book = tmp_path / "tide.md"
    book.write_text("# The Tide\n\n## One\n\nThe tide came in slowly over the sand.\n\n"
                    "## Two\n\nBy morning the boats were floating again.\n")
    by_css(browser, "#book").send_keys(str(book))
    row = submitted_row(browser)
    job_id = row.get_attribute("data-job")
    try:
        wait_for(browser, lambda d: row.find_element("css selector", ".status").text == "done", timeout_s=180)
        assert row.find_element("css selector", ".percent").text == "100 %"
        assert row.find_element("css selector", "progress").get_attribute("value") == "2"
        link = row.find_element("css selector", "a.download").get_attribute("href")
        assert link.endswith(f"/ui/audiobooks/{job_id}/result")
    finally:  # a failed test leaves no narration running beside the next module's tests
        client.delete(f"/v1/audiobooks/{job_id}", headers=bearer(keys["speak"]))


def test_a_song_is_made_and_followed_to_its_download(browser, site, client, keys):
    sign_in(browser, site, keys["speak"])
    browser.get(f"{site}/ui/songs")
    assert_accessible(browser)
    by_css(browser, "#lyrics").send_keys("[verse]\nThe tide comes in\nThe boats go out")
    by_css(browser, "#song-title").send_keys("Harbour")
    row = submitted_row(browser)
    job_id = row.get_attribute("data-job")
    try:
        wait_for(browser, lambda d: row.find_element("css selector", ".status").text == "done", timeout_s=240)
        assert row.find_element("css selector", ".percent").text == "100 %"
        song = client.get(row.find_element("css selector", "a.download").get_attribute("href").removeprefix(site),
                          headers={"Cookie": f"{UI_COOKIE}={keys['speak']}"})
        assert song.status_code == 200 and song.headers["content-type"] == "audio/mpeg"
        assert re.fullmatch(r"[0-9a-f]{8}", song.headers["x-voicekit-mark-id"])
    finally:
        client.delete(f"/v1/songs/{job_id}", headers=bearer(keys["speak"]))


def test_an_audit_shows_each_files_verdict(browser, site, keys, client, tmp_path):
    ours = tmp_path / "ours.mp3"
    # Ten seconds, as an auditor's files are: a clip of a few seconds loses its payload about one
    # time in a hundred (then "marked-unattributed"; see tests/voicekit/test_m4b.py).
    text = f"{SENTENCE} An auditor will look at this file later, and find where it came from."
    ours.write_bytes(client.post("/v1/speech", headers=bearer(keys["speak"]),
                                 json={"text": text, "format": "mp3"}).content)
    human = tmp_path / "human.wav"
    human.write_bytes(HUMAN_RECORDING.read_bytes())
    sign_in(browser, site, keys["audit"])
    assert browser.current_url.endswith("/ui/audit")
    by_css(browser, "#files").send_keys(f"{ours}\n{human}")
    by_css(browser, "#audit-form button").click()
    wait_for(browser, lambda d: by_css(d, "#findings").is_displayed(), timeout_s=120)
    rows = {r.find_elements("css selector", "td")[0].text: [c.text for c in r.find_elements("css selector", "td")]
            for r in browser.find_elements("css selector", "#findings tbody tr")}
    assert rows["ours.mp3"][1] == "ours" and rows["ours.mp3"][3] == "heart", rows
    assert rows["ours.mp3"][4] == "active / active"
    assert rows["human.wav"][1] == "no-mark"
    assert "1 ours" in by_css(browser, "#audit-state").text
    assert_accessible(browser)
    by_css(browser, "#report-html").click()
    wait_for(browser, lambda d: "ours.mp3" in d.page_source and "data:image/png;base64," in d.page_source)


def test_a_key_without_a_scope_sees_neither_the_page_nor_its_link(browser, site, keys):
    sign_in(browser, site, keys["audit"])
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "nav a")]
    assert links == [f"{site}/ui/audit"]
    browser.get(f"{site}/ui/speak")
    assert "needs the speak scope" in by_css(browser, "main").text.replace("\n", " ")
    assert not browser.find_elements("css selector", "#speak-form")
    browser.get(f"{site}/ui/enroll")
    assert not browser.find_elements("css selector", "#challenge-form")
