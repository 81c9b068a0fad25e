"""The page in a real browser: Debian's chromium and chromium-driver, driven by Selenium.

The screenshot goes to reports/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from data.attributes import CELEBA_ATTRIBUTES
from tests.sample import SAMPLE

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium and chromium-driver are not installed (.ci/run installs them)",
    ),
    pytest.mark.skipif(SAMPLE is None, reason="../shared/celeba-sample is absent"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1150"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()


def upload(browser: webdriver.Chrome, url: str, path: Path) -> None:
    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "model-line").text.startswith("study ")
    )
    browser.find_element(By.ID, "file").send_keys(str(path))


def test_a_face_gets_40_sorted_bars_that_agree_with_the_api(browser, server_url):
    face = sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[0]
    upload(browser, server_url, face)
    WebDriverWait(browser, 60).until(
        expected_conditions.visibility_of_element_located((By.ID, "attributes"))
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#bars tr")
    names = [row.get_attribute("data-name") for row in rows]
    assert sorted(names) == sorted(CELEBA_ATTRIBUTES)
    shown = [float(row.find_element(By.CLASS_NAME, "value").text) for row in rows]
    assert shown == sorted(shown, reverse=True)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .threshold")) == 40
    decisions = {row.find_element(By.CLASS_NAME, "decision").text for row in rows}
    assert decisions <= {"present", "absent"}

    with face.open("rb") as file:
        answer = requests.post(
            f"{server_url}/api/predict", files={"file": file}, timeout=60
        ).json()["results"][0]
    top = max(answer["probabilities"], key=answer["probabilities"].get)
    assert names[0] == top
    assert browser.find_element(By.ID, "face-box").is_displayed()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "serve_page.png"))
    browser.find_element(By.ID, "show-crop").click()
    assert browser.find_element(By.ID, "crop").is_displayed()
    assert not browser.find_element(By.ID, "photo-wrap").is_displayed()
    browser.save_screenshot(str(SCREENSHOTS / "serve_page_crop.png"))


def test_a_non_image_shows_one_error_line(browser, server_url, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("this is not a picture\n")
    upload(browser, server_url, notes)
    error = WebDriverWait(browser, 60).until(
        expected_conditions.visibility_of_element_located((By.ID, "error"))
    )
    assert error.text == "notes.jpg: not a JPEG, PNG or WebP image"
    assert not browser.find_element(By.ID, "attributes").is_displayed()
