"""The Spark UI of a real STS through `/ui/<session_id>/`, in real headless Chromium.

Every request the browser makes is collected from Chrome's DevTools network events: all of them must
stay under the session's prefix on the gateway and none may fail. Then the same checks a user would
make by hand: another user is refused, an ended session's link redirects, the `/` page lists the
session (a screenshot of it lands in the test's tmp_path).
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyhive import hive

from tests.gateway_harness import GatewayThread
from tests.requires import require_binary
from tests.ui.conftest import HISTORY_URL, PASSWORDS

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()


def fetch(url: str, auth: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    req = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=20) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Browser:
    """Headless Chromium with every network request and failure recorded."""

    def __init__(self, auth: str) -> None:
        require_binary("chromium", package="chromium")
        require_binary("chromedriver", package="chromium-driver")
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM or ""
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update", "--no-first-run",
                    "--window-size=1280,900"):  # fmt: skip
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER or ""), options=options)
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": auth}})
        self.requests: dict[str, str] = {}  # requestId -> URL
        self.statuses: dict[str, int] = {}
        self.failures: list[str] = []

    def collect(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests[params["requestId"]] = params["request"]["url"]
            elif message["method"] == "Network.responseReceived":
                self.statuses[params["requestId"]] = params["response"]["status"]
            elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
                self.failures.append(f"{self.requests.get(params['requestId'])}: {params.get('errorText')}")

    def load(self, url: str, ready: str = "") -> None:
        """Open a page and wait until `ready` (JS, truthy) holds and the network is quiet."""
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(url)
        wait = WebDriverWait(self.driver, 30, poll_frequency=0.2)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        if ready:
            wait.until(lambda d: d.execute_script(f"return Boolean({ready})"))
        wait.until(lambda d: d.execute_script("return window.jQuery ? jQuery.active === 0 : true"))
        self.collect()

    def close(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="module")
def alice_session(ui_gateway: GatewayThread) -> Iterator[tuple[hive.Connection, str]]:
    conn = hive.connect(ui_gateway.host, port=ui_gateway.port, username="alice", password="wonderland", auth="CUSTOM")
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM range(100000)")  # a job to look at
    assert cur.fetchall() == [(100000,)]
    cur.execute("ADHOC DESC SESSION")
    row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
    session_id = str(row["session_id"])
    base = f"{ui_gateway.http_url}/ui/{session_id}/"
    app_id = json.loads(fetch(base + "api/v1/applications", basic("alice"))[2])[0]["id"]
    deadline = time.monotonic() + 60  # Spark's UI lists a job once its listener bus got to it
    sql_url = f"{base}api/v1/applications/{app_id}/sql"
    while not any(e["status"] == "COMPLETED" for e in json.loads(fetch(sql_url, basic("alice"))[2])):
        assert time.monotonic() < deadline, "Spark's UI never listed alice's query"
        time.sleep(0.5)
    yield conn, session_id
    conn.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser(basic("alice"))
    yield b
    b.close()


def test_desc_session_links_point_at_the_gateway(ui_gateway: GatewayThread, alice_session: tuple[Any, str]) -> None:
    conn, session_id = alice_session
    cur = conn.cursor()
    cur.execute("ADHOC DESC SESSION")
    row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
    assert row["spark_ui_url"] == f"{ui_gateway.http_url}/ui/{session_id}/"
    assert row["logs_url"] == f"{ui_gateway.http_url}/logs/{session_id}/"
    assert str(row["app_id"]).startswith("local-")
    cur.execute("SELECT 1")
    logs = "\n".join(cur.fetch_logs())
    assert f"[adhoc] Spark UI: {ui_gateway.http_url}/ui/{session_id}/" in logs


def test_spark_ui_pages_load_through_the_proxy(
    ui_gateway: GatewayThread, alice_session: tuple[Any, str], browser: Browser
) -> None:
    """alice on a shared STS: her own work's pages load whole; the list tabs show her own work."""
    _, session_id = alice_session
    base = f"{ui_gateway.http_url}/ui/{session_id}/"
    browser.load(base, "document.querySelector('table.jobs tbody tr')")
    assert browser.driver.current_url == base
    assert "count(*) FROM range(100000)" in browser.driver.find_element("css selector", "table.jobs").text

    body = fetch(base + "api/v1/applications", basic("alice"))[2]
    app_id = json.loads(body)[0]["id"]
    jobs = json.loads(fetch(f"{base}api/v1/applications/{app_id}/jobs", basic("alice"))[2])
    job = max(jobs, key=lambda j: j["jobId"])
    browser.load(f"{base}jobs/job/?id={job['jobId']}", "document.querySelector('#completedStage-table')")
    assert f"Details for Job {job['jobId']}" in browser.driver.page_source
    stage = max(job["stageIds"])
    browser.load(f"{base}stages/stage/?id={stage}&attempt=0", "document.querySelector('#active-tasks-table tbody tr')")
    assert f"Details for Stage {stage}" in browser.driver.page_source
    sql = json.loads(fetch(f"{base}api/v1/applications/{app_id}/sql", basic("alice"))[2])
    browser.load(f"{base}SQL/execution/?id={sql[-1]['id']}", "document.querySelector('#plan-viz-graph svg')")
    assert f"Details for Query {sql[-1]['id']}" in browser.driver.page_source

    # JS-rendered: the table is filled by executorspage.js from the REST API
    browser.load(base + "executors/", "document.querySelector('#active-executors-table tbody tr td')")
    assert "driver" in browser.driver.find_element("css selector", "#active-executors-table tbody").text

    browser.load(base + "api/v1/applications")
    assert app_id in browser.driver.page_source
    for tab in ("jobs/", "stages/", "SQL/"):  # the list tabs: the session's own work
        browser.load(base + tab, "document.querySelector('table.jobs tbody tr')")
        assert browser.driver.current_url == base + tab
    refused = [base + tab for tab in ("sqlserver/", "environment/")]  # other users' sessions, the engine's conf
    for url in refused:
        browser.load(url)
        assert "this engine is shared" in browser.driver.page_source

    requested = list(browser.requests.values())
    assert len(requested) > 20, requested  # pages, their scripts, styles and the REST calls behind them
    # Chrome asks the origin's /favicon.ico for documents without an icon link (the JSON of the
    # REST API): the gateway answers it itself; Spark's pages name their icon under the prefix.
    own_icon = f"{ui_gateway.http_url}/favicon.ico"
    outside = [u for u in requested if not u.startswith(base) and not u.startswith("data:") and u != own_icon]
    assert outside == [], "requests that left the proxy"
    assert browser.failures == []
    failed = {browser.requests[r]: s for r, s in browser.statuses.items() if s >= 400}
    assert failed == dict.fromkeys(refused, 403)
    assert any("/api/v1/applications/" in u and "allexecutors" in u for u in requested)
    # an admin gets Spark's own pages: its root redirect stays under the prefix
    status, headers, _ = fetch(base, basic("carol"))
    assert status == 302 and headers["Location"].endswith(f"/ui/{session_id}/jobs/")


def test_other_users_get_no_spark_content(ui_gateway: GatewayThread, alice_session: tuple[Any, str]) -> None:
    _, session_id = alice_session
    url = f"{ui_gateway.http_url}/ui/{session_id}/jobs/"
    status, headers, body = fetch(url)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert fetch(url, "Basic " + base64.b64encode(b"alice:wrong").decode())[0] == 401
    status, _, body = fetch(url, basic("bob"))
    assert status == 403 and b"Spark" not in body
    assert fetch(url, basic("carol"))[0] == 200  # an admin sees every session
    assert fetch(f"{ui_gateway.http_url}/ui/no-such-session/jobs/", basic("alice"))[0] == 404


def test_open_proxy_attempts_are_refused(ui_gateway: GatewayThread, alice_session: tuple[Any, str]) -> None:
    _, session_id = alice_session
    base = f"{ui_gateway.http_url}/ui/{session_id}"
    for path in ("/%2e%2e/%2e%2e/livez", "//example.com/", "/http:%2f%2fexample.com/"):
        assert fetch(base + path, basic("alice"))[0] == 400, path
    req = urllib.request.Request(
        base + "/jobs/", headers={"Authorization": basic("alice"), "X-Forwarded-Host": "x.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400


def test_ended_session_redirects_to_the_history_server(ui_gateway: GatewayThread) -> None:
    conn = hive.connect(ui_gateway.host, port=ui_gateway.port, username="alice", password="wonderland", auth="CUSTOM")
    cur = conn.cursor()
    cur.execute("ADHOC DESC SESSION")
    session_id, app_id = (lambda r: (r[0], r[4]))(cur.fetchall()[0])
    conn.close()
    status, headers, _ = fetch(f"{ui_gateway.http_url}/ui/{session_id}/jobs/", basic("alice"))
    assert status in (302, 303, 307) and headers["Location"] == f"{HISTORY_URL}/history/{app_id}/"
    assert fetch(f"{ui_gateway.http_url}/ui/{session_id}/", basic("bob"))[0] == 403


def test_sessions_page_in_the_browser(
    ui_gateway: GatewayThread, alice_session: tuple[Any, str], browser: Browser, tmp_path: Path
) -> None:
    _, session_id = alice_session
    browser.load(f"{ui_gateway.http_url}/")
    rows = browser.driver.find_elements("css selector", "table.sessions tbody tr")
    texts = [r.text for r in rows]
    assert any(session_id[:8] in t and "alice" in t and "sts-ui" in t for t in texts), texts
    links = [a.get_attribute("href") for a in browser.driver.find_elements("css selector", "table.sessions a")]
    assert f"{ui_gateway.http_url}/ui/{session_id}/" in links
    assert f"{ui_gateway.http_url}/logs/{session_id}/" in links
    assert browser.driver.find_element("css selector", "meta[http-equiv=refresh]") is not None
    browser.driver.save_screenshot(str(tmp_path / "sessions-page.png"))
    browser.driver.set_window_size(390, 844)  # a phone
    browser.driver.save_screenshot(str(tmp_path / "sessions-page-phone.png"))
    assert (tmp_path / "sessions-page.png").stat().st_size > 1000
