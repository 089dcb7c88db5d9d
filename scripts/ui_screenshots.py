"""Screenshots of the web interface for the README (docs/ui-speak.png, docs/ui-enroll.png).

    .venv/bin/python scripts/ui_screenshots.py

Starts `voicekit serve` on a temporary home with a new key, and drives Debian's headless Chromium
(as tests/api/test_ui_browser.py does): a sentence spoken and playing, then the enrollment page with
a statement recorded from a fake microphone (heart reading it, straight from the engine).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "Every voice here speaks with consent, and every sound it makes carries a mark that says where it came from."


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory(prefix="voicekit-ui-") as folder:
        home, mic = Path(folder) / "home", Path(folder) / "mic.wav"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEKIT_")} | {"VOICEKIT_HOME": str(home)}
        voicekit = [sys.executable, "-m", "voicekit.cli"]
        made = subprocess.run(voicekit + ["api-keys", "create", "--owner", "narrator", "--scopes",
                                          "speak,enroll,profiles", "--json"], env=env, check=True, capture_output=True)
        key = json.loads(made.stdout)["key"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(voicekit + ["serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        site = f"http://127.0.0.1:{port}"
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for arg in ("--headless=new", "--no-sandbox", "--window-size=1100,1250", "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream", f"--use-file-for-fake-audio-capture={mic}%noloop",
                    "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=DriverService(shutil.which("chromedriver")), options=options)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{site}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            wait = WebDriverWait(driver, 120, poll_frequency=0.2)
            driver.get(f"{site}/ui/sign-in")
            driver.find_element("id", "api_key").send_keys(key)
            driver.find_element("css selector", "form[action='/ui/sign-in'] button").click()
            wait.until(lambda d: d.find_elements("id", "speak-form"))
            driver.find_element("id", "text").send_keys(SENTENCE)
            driver.find_element("css selector", "#speak-form button").click()
            player = wait.until(lambda d: d.find_elements("id", "player"))[0]
            driver.execute_script("arguments[0].currentTime = 2.2; arguments[0].play()", player)
            wait.until(lambda d: len(d.find_elements("css selector", "#words span.spoken")) == 1
                       and d.execute_script("return arguments[0].currentTime", player) > 2.6)
            driver.execute_script("arguments[0].pause(); window.scrollTo(0, 0)", player)
            driver.save_screenshot(str(ROOT / "docs" / "ui-speak.png"))

            driver.get(f"{site}/ui/enroll")
            driver.find_element("id", "person").send_keys("Ada Quill")
            driver.find_element("css selector", "#challenge-form button").click()
            phrase = wait.until(lambda d: d.find_element("id", "phrase").text)
            from voicekit import Studio

            engine = Studio(home=home).engine("heart")
            quiet = np.zeros(engine.sample_rate // 2, np.float32)
            reading = np.concatenate([quiet, engine.synthesize(phrase), quiet])
            sf.write(mic, reading, engine.sample_rate, subtype="PCM_16")
            recorder = driver.find_element("css selector", "#consent-step .recorder")
            recorder.find_element("css selector", ".record").click()
            time.sleep(len(reading) / engine.sample_rate + 0.3)
            recorder.find_element("css selector", ".stop").click()
            wait.until(lambda d: "Recorded" in recorder.text)
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(ROOT / "docs" / "ui-enroll.png"))
        finally:
            driver.quit()
            server.terminate()
            server.wait(30)
    print("wrote docs/ui-speak.png and docs/ui-enroll.png")


if __name__ == "__main__":
    main()
