"""The page in a real browser: Debian's chromium and chromium-driver, driven by Selenium.

The screenshot goes to reports/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from data import CELEBA_ATTRIBUTES
from tests.sample import SAMPLE

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
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
    WebDriverWait(browser, 60).until(
        expected_conditions.visibility_of_element_located((By.ID, "error"))
    )
    assert browser.find_element(By.ID, "error-text").text == (
        "notes.jpg: not a JPEG, PNG or WebP image"
    )
    assert not browser.find_element(By.ID, "attributes").is_displayed()
    assert browser.find_element(By.ID, "photo-frame").is_displayed()  # the photo stays
    assert browser.find_element(By.ID, "retry").is_displayed()


def wait_for_answer(browser: webdriver.Chrome) -> None:
    """Until the latest request has been answered (results or an error shown)."""
    WebDriverWait(browser, 60).until(
        lambda d: (
            "loading" not in d.find_element(By.ID, "status").get_attribute("class")
            and d.find_element(By.ID, "status").text
        )
    )


def faces(n: int) -> list[Path]:
    return sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[:n]


def test_of_two_quick_uploads_the_latest_photo_and_its_answer_are_shown(
    browser, server_url, tmp_path
):
    slow = tmp_path / "large.jpg"  # more to send, decode and search than the second
    Image.open(faces(2)[1]).resize((3560, 4360)).save(slow, quality=95)
    quick = faces(1)[0]
    for _ in range(3):
        upload(browser, server_url, slow)
        browser.find_element(By.ID, "file").send_keys(str(quick))
        wait_for_answer(browser)
        table = browser.find_element(By.ID, "attributes")
        assert table.is_displayed() and table.get_attribute("data-file") == quick.name
        assert browser.find_element(By.ID, "photo").get_attribute("data-file") == quick.name
        assert browser.find_element(By.ID, "status").text.startswith(f"{quick.name}: ")


def test_the_page_fits_375_px_and_says_what_it_knows(browser, server_url):
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        upload(browser, server_url, faces(1)[0])
        wait_for_answer(browser)
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 375
        for cell in browser.find_elements(By.CSS_SELECTOR, "#bars td.trust")[:5]:
            assert cell.rect["x"] + cell.rect["width"] <= 375 and cell.text
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "serve_page_375.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert "synthetic faces" in browser.find_element(By.ID, "data-line").text
    caption = browser.find_element(By.ID, "trust-caption").text
    assert "measured on the synthetic test faces" in caption
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("aria-live") == "polite"
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")}
    assert links["model card"].endswith("/api/model_card.json")
    assert links["API (OpenAPI)"].endswith("/api/openapi.json")


def _contrast(foreground: str, background: tuple[int, int, int]) -> float:
    def luminance(rgb: list[int] | tuple[int, int, int]) -> float:
        channels = [c / 255 for c in rgb]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    rgb = [int(v) for v in foreground[foreground.index("(") + 1 : -1].split(",")[:3]]
    light, dark = sorted((luminance(rgb), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_text_meets_wcag_aa_contrast(browser, server_url):
    upload(browser, server_url, faces(1)[0])
    wait_for_answer(browser)
    selectors = ["#bars tr.weak td.name", "#bars .decision", ".legend", "#model-line",
                 "#timings", "#bars .level", "#bars .value"]  # fmt: skip
    for selector in selectors:
        for node in browser.find_elements(By.CSS_SELECTOR, selector)[:3]:
            assert _contrast(node.value_of_css_property("color"), (255, 255, 255)) >= 4.5, selector


def test_the_page_works_from_the_keyboard(browser, server_url):
    browser.get(server_url)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "model-line").text.startswith("study ")
    )

    def press(key: str) -> None:  # to the page, as a person would (no element targeted)
        ActionChains(browser).send_keys(key).perform()

    for _ in range(20):  # tab to the first example face
        press(Keys.TAB)
        if browser.switch_to.active_element.get_attribute("class") == "example":
            break
    assert browser.switch_to.active_element.get_attribute("data-number") == "0"
    press(Keys.ENTER)
    wait_for_answer(browser)
    assert browser.find_element(By.ID, "attributes").get_attribute("data-file") == "example-1.png"
    for _ in range(40):  # on to the first trust level, whose reason opens with Enter
        press(Keys.TAB)
        if browser.switch_to.active_element.tag_name == "summary":
            break
    summary = browser.switch_to.active_element
    assert summary.tag_name == "summary"
    press(Keys.ENTER)
    reason = summary.find_element(By.XPATH, "../p")
    assert reason.is_displayed() and "AUC validation" in reason.text


def test_no_face_is_explained_and_the_option_resends_the_same_photo(browser, server_url, tmp_path):
    sky = tmp_path / "sky.png"
    Image.linear_gradient("L").convert("RGB").resize((300, 200)).save(sky)
    upload(browser, server_url, sky)
    wait_for_answer(browser)
    assert "No face was found in sky.png" in browser.find_element(By.ID, "error-text").text
    assert browser.find_element(By.ID, "photo").is_displayed()
    browser.find_element(By.ID, "retry").click()  # the same file again: the same answer
    wait_for_answer(browser)
    assert browser.execute_script("return latest") == 2
    browser.find_element(By.ID, "aligned").click()  # re-sent without choosing it again
    wait_for_answer(browser)
    assert browser.find_element(By.ID, "attributes").get_attribute("data-file") == "sky.png"
    assert "no face found in this image" in browser.find_element(By.ID, "notice").text
    browser.find_element(By.ID, "file").send_keys(str(sky))  # choosing it again counts too
    wait_for_answer(browser)
    assert browser.execute_script("return latest") == 4
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "serve_page_notice.png"))
