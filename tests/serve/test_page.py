"""The try-it page in headless Chromium (Selenium, the system's chromium + chromedriver)."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.serve.models import png

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="graphrewrite-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _choose(driver, name):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    Select(driver.find_element(By.ID, "model")).select_by_visible_text(name)


def test_upload_image_shows_top_classes_and_latency(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    image = tmp_path / "red.png"
    png(image, 20, 12, (255, 0, 0))  # resized to 8x8 by the page; only channel 0 is lit
    browser.get(server.url + "/")
    _choose(browser, "classifier")
    browser.find_element(By.ID, "image").send_keys(str(image))
    rows = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#top tr.class"))
    # logits: class k = mean(channel k % 3) * (k+1) -> classes 3 (4*255) then 0 (255), rest 0.
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows[:2]] == ["3", "0"]
    assert rows[0].find_elements(By.TAG_NAME, "td")[1].text == "1020"
    assert "latency" in browser.find_element(By.ID, "latency").text
    assert browser.find_element(By.ID, "error").text == ""


def _paste_and_send(browser, server, model, text):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    _choose(browser, model)
    box = browser.find_element(By.ID, "json")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "send").click()


def test_paste_json_shows_outputs(browser, server):
    from selenium.webdriver.common.by import By

    _paste_and_send(browser, server, "half", '{"instances": [1.0, 2.0, 5.0]}')
    output = _wait(browser, lambda d: d.find_element(By.ID, "output").text or None)
    assert output == '{"predictions":[3.5,4,5.5]}'  # version 2 (half_plus_three) is the latest
    assert "HTTP 200" in browser.find_element(By.ID, "latency").text


def test_bad_json_shows_the_servers_error(browser, server):
    from selenium.webdriver.common.by import By

    _paste_and_send(browser, server, "half", '{"instances": ["a"]}')
    error = _wait(browser, lambda d: d.find_element(By.ID, "error").text or None)
    assert error == "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: \"a\" Type: String is not of expected type: float"
