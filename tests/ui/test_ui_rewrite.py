"""The UI proxy's sans-IO rules: what may be fetched, and how Spark's links stay under the prefix."""

from __future__ import annotations

import gzip

import pytest

from adhoc.errors import RefusedRequest
from adhoc.http.ui_rewrite import (
    HtmlRewriter,
    Upstream,
    check_request_headers,
    checked_tail,
    map_url,
    public_prefix,
    response_headers,
    upstream_request_headers,
)

DRIVER = Upstream.parse("http://10.0.0.7:4040")
YARN = Upstream.parse("http://rm1:8088/proxy/application_1_0001/")
P = "/ui/s1"


def test_upstream_parse() -> None:
    assert Upstream("http://10.0.0.7:4040", "") == DRIVER
    assert Upstream("http://rm1:8088", "/proxy/application_1_0001") == YARN
    assert Upstream.parse("driver:4040").origin == "http://driver:4040"
    assert YARN.url_for("/jobs/", "id=1") == "http://rm1:8088/proxy/application_1_0001/jobs/?id=1"
    with pytest.raises(ValueError):
        Upstream.parse("file:///etc/passwd")


def test_public_prefix_keeps_the_public_urls_path() -> None:
    assert public_prefix("http://127.0.0.1:10099", "s1") == "/ui/s1"
    assert public_prefix("https://gw.example/adhoc/", "s1") == "/adhoc/ui/s1"


@pytest.mark.parametrize("tail", ["", "/", "/jobs/", "/api/v1/applications", "/static/webui.js", "/stages/stage/"])
def test_ordinary_paths_pass(tail: str) -> None:
    assert checked_tail(tail) == tail


@pytest.mark.parametrize(
    "tail",
    ["/../x", "/a/../../x", "/%2e%2e/x", "/%252e%252e/x", "/.%2E/x", "//evil.example/", "/%2fevil.example/",
     "/http://evil.example/", "/https:%2f%2fevil/", "/a\\..\\b", "/x%00", "x"],
)  # fmt: skip
def test_paths_that_try_to_leave_are_refused(tail: str) -> None:
    with pytest.raises(RefusedRequest):
        checked_tail(tail)


def test_headers_that_pick_a_host_or_base_are_refused() -> None:
    own = frozenset({"gw.example", "gw.example:443"})
    check_request_headers({"x-forwarded-host": "gw.example", "forwarded": 'for=1.2.3.4;host="gw.example"'}, own)
    for headers in (
        {"x-forwarded-host": "evil.example"},
        {"x-forwarded-host": "gw.example,evil.example"},
        {"x-forwarded-context": "/elsewhere"},
        {"x-original-url": "http://evil.example/"},
        {"forwarded": "host=evil.example"},
    ):
        with pytest.raises(RefusedRequest):
            check_request_headers(headers, own)


def test_request_headers_carry_no_credentials_and_set_the_context() -> None:
    sent = {"Authorization": "Basic eDp5", "Cookie": "a=b", "Accept": "text/html", "Host": "gw", "X-Forwarded-For": "1"}
    out = upstream_request_headers(sent, P)
    assert out == {"Accept": "text/html", "Accept-Encoding": "identity", "X-Forwarded-Context": P}


@pytest.mark.parametrize(
    ("client", "upstream"),
    [("", "identity"), ("gzip, deflate, br, zstd", "gzip, deflate"), ("br", "identity"), ("*", "gzip, deflate"),
     ("GZIP;q=0.5", "gzip")],
)  # fmt: skip
def test_spark_compresses_only_as_the_client_and_the_rewriter_both_can(client: str, upstream: str) -> None:
    assert upstream_request_headers({"Accept-Encoding": client}, P, "/static/a.js")["Accept-Encoding"] == upstream
    assert upstream_request_headers({"Accept-Encoding": client}, P, "/api/v1/x")["Accept-Encoding"] == upstream
    assert upstream_request_headers({"Accept-Encoding": client}, P, "/jobs/")["Accept-Encoding"] == "identity"


@pytest.mark.parametrize(
    ("url", "upstream", "expected"),
    [
        ("http://10.0.0.7:4040/jobs/", DRIVER, "/ui/s1/jobs/"),
        ("http://10.0.0.7:4040", DRIVER, "/ui/s1/"),
        ("HTTP://10.0.0.7:4040/x?a=1", DRIVER, "/ui/s1/x?a=1"),
        ("//10.0.0.7:4040/static/a.css", DRIVER, "/ui/s1/static/a.css"),
        ("/ui/s1/jobs/", DRIVER, "/ui/s1/jobs/"),  # Spark honoured X-Forwarded-Context
        ("/jobs/", DRIVER, "/ui/s1/jobs/"),
        ("/proxy/application_1_0001/jobs/", YARN, "/ui/s1/jobs/"),
        ("http://rm1:8088/proxy/application_1_0001/", YARN, "/ui/s1/"),
        ("http://10.0.0.8:4040/jobs/", DRIVER, "http://10.0.0.8:4040/jobs/"),  # another host: untouched
        ("https://spark.apache.org/docs/", DRIVER, "https://spark.apache.org/docs/"),
        ("stage/?id=1", DRIVER, "stage/?id=1"),
        ("#top", DRIVER, "#top"),
    ],
)
def test_map_url(url: str, upstream: Upstream, expected: str) -> None:
    assert map_url(url, upstream, P) == expected


def test_response_headers_rewrite_location_and_drop_hop_by_hop() -> None:
    got = {"Location": "http://10.0.0.7:4040/jobs/", "Content-Length": "10", "Connection": "close",
           "Set-Cookie": "x=1", "Content-Type": "text/html", "Content-Encoding": "gzip"}  # fmt: skip
    assert response_headers(got, DRIVER, P, rewriting=True) == {"Location": "/ui/s1/jobs/", "Content-Type": "text/html"}
    passed = response_headers(got, DRIVER, P, rewriting=False)
    assert passed["Content-Length"] == "10" and passed["Content-Encoding"] == "gzip"


PAGE = (
    b'<html><head><link rel="stylesheet" href="/proxy/application_1_0001/static/webui.css" type="text/css"/>'
    b"<script>setUIRoot('/proxy/application_1_0001')</script></head><body>"
    b'<a href="http://rm1:8088/proxy/application_1_0001/jobs/">Jobs</a> <a href="stage/?id=1&amp;attempt=0">s</a>'
    b"<img src='//rm1:8088/proxy/application_1_0001/static/logo.png'> <a href=\"https://spark.apache.org/\">doc</a>"
    b'<form action="/proxy/application_1_0001/stages/stage/kill/"></form></body></html>'
)
EXPECTED = (
    b'<html><head><link rel="stylesheet" href="/ui/s1/static/webui.css" type="text/css"/>'
    b"<script>setUIRoot('/ui/s1')</script></head><body>"
    b'<a href="/ui/s1/jobs/">Jobs</a> <a href="stage/?id=1&amp;attempt=0">s</a>'
    b"<img src='/ui/s1/static/logo.png'> <a href=\"https://spark.apache.org/\">doc</a>"
    b'<form action="/ui/s1/stages/stage/kill/"></form></body></html>'
)


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
def test_html_rewriter_streams_in_any_chunking(chunk: int) -> None:
    rewriter = HtmlRewriter(YARN, P)
    out = b"".join(rewriter.feed(PAGE[i : i + chunk]) for i in range(0, len(PAGE), chunk)) + rewriter.flush()
    assert out == EXPECTED


def test_html_rewriter_undoes_gzip() -> None:
    packed = gzip.compress(PAGE)
    rewriter = HtmlRewriter(YARN, P, "gzip")
    out = b"".join(rewriter.feed(packed[i : i + 10]) for i in range(0, len(packed), 10)) + rewriter.flush()
    assert out == EXPECTED


def test_html_rewriter_holds_back_little() -> None:
    """A page without any `>` for megabytes is passed on, not accumulated."""
    rewriter = HtmlRewriter(DRIVER, P)
    held = 0
    for _ in range(100):
        rewriter.feed(b"x" * 65536)
        held = max(held, len(rewriter._carry))
    assert held <= 256 * 1024 + 65536


def test_html_rewriter_refuses_encodings_it_cannot_undo() -> None:
    with pytest.raises(ValueError):
        HtmlRewriter(DRIVER, P, "br")
