"""The UI proxy's rules, without I/O: which upstream URL a request may reach, and how what comes back
is rewritten so every link stays under `/ui/<session_id>/`.

    upstream = Upstream.parse("http://10.0.0.7:4040")            # the session's engine UI, never the client's choice
    prefix = public_prefix("https://gw.example/adhoc", sid)       # "/adhoc/ui/<sid>"
    url = upstream.url_for(checked_tail(raw_tail), query)        # RefusedRequest on `..`, `//host`, `http://`
    location = map_url(resp_location, upstream, prefix)
    rewriter = HtmlRewriter(upstream, prefix); out = rewriter.feed(chunk) ...; out += rewriter.flush()

Spark writes its own links under the prefix when told with `X-Forwarded-Context` (UIUtils.uiRoot);
what it cannot know is rewritten here: absolute `Location` headers naming the driver, absolute links
to the driver, and a YARN RM proxy's `/proxy/<app_id>` base.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from adhoc.errors import RefusedRequest

# Request headers passed on to Spark. Everything else stays here: the gateway's Basic credentials,
# cookies, and any header that names a host or a base path.
FORWARDED_REQUEST_HEADERS = frozenset({
    "accept", "accept-language", "cache-control", "if-modified-since", "if-none-match", "range",
    "user-agent", "x-requested-with", "pragma",
})  # fmt: skip
# Headers that would choose what Spark believes its address is: refused unless they name us.
_CONTEXT_HEADERS = ("x-forwarded-context", "x-original-url", "x-rewrite-url", "x-forwarded-prefix")
_HOST_HEADERS = ("x-forwarded-host", "x-forwarded-server")
# Hop-by-hop (RFC 9110 7.6.1) and what must not reach the browser from the driver's origin.
_DROPPED_RESPONSE_HEADERS = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "set-cookie", "content-length", "content-encoding", "location",
    "strict-transport-security", "alt-svc",
})  # fmt: skip
# Encodings the HTML rewriter can undo (brotli/zstd would need libraries for little gain on a LAN).
_DECODABLE = ("gzip", "deflate")


@dataclass(frozen=True)
class Upstream:
    """Where a session's Spark UI answers, as the gateway reaches it: `origin` is scheme://host:port,
    `base_path` is "" for a driver, "/proxy/<app_id>" behind a YARN RM."""

    origin: str
    base_path: str = ""

    @staticmethod
    def parse(url: str) -> Upstream:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return Upstream(f"{parts.scheme}://{parts.netloc.lower()}", parts.path.rstrip("/"))

    @property
    def netloc(self) -> str:
        return self.origin.split("://", 1)[1]

    def url_for(self, tail: str, query: str = "") -> str:
        """The upstream URL of an already checked tail (e.g. "/jobs/job/"), query kept as sent."""
        return f"{self.origin}{self.base_path}{tail or '/'}" + (f"?{query}" if query else "")


def public_prefix(public_url: str, session_id: str) -> str:
    """The path under which a session's UI is published: public_url's own path + /ui/<id>."""
    return f"{urlsplit(public_url).path.rstrip('/')}/ui/{session_id}"


def checked_tail(raw_tail: str) -> str:
    """The part of the request path after /ui/<id>, as it will be sent upstream; RefusedRequest
    for anything that could step out of the session's UI (dot segments, another host, a scheme)."""
    if raw_tail and not raw_tail.startswith("/"):
        raise RefusedRequest("the path after the session id must start with /")
    decoded = raw_tail
    for _ in range(3):  # %252e%252e decodes to %2e%2e decodes to ..
        decoded = unquote(decoded)
    if decoded.startswith("//") or "\\" in decoded:
        raise RefusedRequest("the path names another host")
    if any(seg in (".", "..") for seg in decoded.split("/")):
        raise RefusedRequest("dot segments are not allowed in a UI path")
    if "://" in decoded or re.match(r"/[a-zA-Z][a-zA-Z0-9+.-]*:", decoded):
        raise RefusedRequest("absolute URLs are not allowed in a UI path")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        raise RefusedRequest("control characters in the path")
    return raw_tail


def check_request_headers(headers: Mapping[str, str], own_hosts: frozenset[str]) -> None:
    """Refuse headers that try to steer the proxy or Spark elsewhere. A front proxy's
    X-Forwarded-Host naming this gateway is fine; one naming another host is not."""
    for name in _CONTEXT_HEADERS:
        if name in headers:
            raise RefusedRequest(f"header {name} is not accepted on the UI proxy")
    for name in _HOST_HEADERS:
        value = headers.get(name)
        if value is not None and any(h.strip().lower() not in own_hosts for h in value.split(",")):
            raise RefusedRequest(f"header {name} names a host other than this gateway")
    forwarded = headers.get("forwarded", "")
    for host in re.findall(r'host="?([^;,"\s]+)', forwarded, re.IGNORECASE):
        if host.lower() not in own_hosts:
            raise RefusedRequest("header forwarded names a host other than this gateway")


def upstream_request_headers(headers: Mapping[str, str], prefix: str, tail: str = "/") -> dict[str, str]:
    out = {k: v for k, v in headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
    client_accepts = next((v for k, v in headers.items() if k.lower() == "accept-encoding"), "")
    # Spark's pages (everything but /static/ and /api/) are HTML the proxy reads anyway: asking for
    # them uncompressed spares the driver the gzip and the proxy the gunzip.
    passed_through = tail.startswith(("/static/", "/api/"))
    out["Accept-Encoding"] = accepted_encodings(client_accepts) if passed_through else "identity"
    out["X-Forwarded-Context"] = prefix  # Spark's UIUtils.uiRoot: links come back under the prefix
    return out


def accepted_encodings(client_accepts: str) -> str:
    """What Spark may compress with: what the client accepts (other bodies pass through as they
    come) and the HTML rewriter can undo."""
    offered = {part.split(";", 1)[0].strip().lower() for part in client_accepts.split(",")}
    if "*" in offered:
        offered |= set(_DECODABLE)
    usable = [e for e in _DECODABLE if e in offered]
    return ", ".join(usable) if usable else "identity"


def response_headers(headers: Mapping[str, str], upstream: Upstream, prefix: str, rewriting: bool) -> dict[str, str]:
    """The headers passed to the browser; Location mapped under the prefix. Content-Length and
    Content-Encoding are kept only for bodies passed through unchanged."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower not in _DROPPED_RESPONSE_HEADERS:
            out[name] = value
        elif lower == "location":
            out[name] = map_url(value, upstream, prefix)
        elif lower in ("content-length", "content-encoding") and not rewriting:
            out[name] = value
    return out


def map_url(url: str, upstream: Upstream, prefix: str) -> str:
    """A URL from Spark's output, as the browser must see it. Absolute URLs to the upstream and
    root-relative paths move under the prefix; relative ones and other hosts stay as they are."""
    if url.startswith("//") or "://" in url.split("?", 1)[0]:
        netloc = urlsplit(url if "://" in url else f"http:{url}").netloc
        if netloc.lower() != upstream.netloc:
            return url
        rest = url[url.lower().index(netloc.lower()) + len(netloc) :]
        return _map_path(rest or "/", upstream, prefix)
    if url.startswith("/"):
        return _map_path(url, upstream, prefix)
    return url


def _map_path(path: str, upstream: Upstream, prefix: str) -> str:
    if path.startswith("?"):
        path = "/" + path
    if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
        return path  # Spark honoured X-Forwarded-Context
    base = upstream.base_path
    if base and (path == base or path.startswith(base + "/") or path.startswith(base + "?")):
        path = path[len(base) :] or "/"
    return prefix + path


# Links in attributes (Spark writes `href="..."`, lowercase, no spaces around `=`): matched from the
# `=` so the regex engine can skip ahead, and only values that are a path or an absolute URL.
_LINK = re.compile(
    rb"""=(?:(?<=href=)|(?<=src=)|(?<=action=)|(?<=HREF=)|(?<=SRC=)|(?<=ACTION=))(["'])"""
    rb"""((?:/|[a-zA-Z][a-zA-Z0-9+.-]*:)[^"'<>]*)\1"""
)
_UI_ROOT = re.compile(rb"""setUIRoot\((["'])([^"']*)\1\)""")
_MAX_CARRY = 256 * 1024  # a tag longer than this is passed on unrewritten rather than buffered


class HtmlRewriter:
    """Rewrites links in an HTML stream chunk by chunk, holding back only the text after the last
    `>` of a chunk (an unfinished tag), so memory stays bounded whatever the page's size.

    Spark already writes its links under the prefix when it honours X-Forwarded-Context; a chunk
    where plain substring counts show nothing to change is passed on without running the regex."""

    def __init__(self, upstream: Upstream, prefix: str, content_encoding: str = "") -> None:
        self.upstream = upstream
        self.prefix = prefix
        self._carry = b""
        self._netloc = upstream.netloc.encode()
        self._base = upstream.base_path.encode()
        self._prefixed = prefix.encode()
        self._own_ui_root = b"setUIRoot('" + self._prefixed + b"')"
        encoding = content_encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ValueError(f"cannot rewrite a body in content-encoding {encoding!r}")
        # 32+MAX_WBITS: zlib detects gzip or zlib headers itself
        self._inflate = zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding not in ("", "identity") else None

    def feed(self, chunk: bytes) -> bytes:
        if self._inflate is not None:
            chunk = self._inflate.decompress(chunk)
        data = self._carry + chunk
        cut = data.rfind(b">") + 1
        if cut == 0 and len(data) <= _MAX_CARRY:
            self._carry = data
            return b""
        if cut == 0:
            cut = len(data)
        self._carry = data[cut:]
        return self._rewrite(data[:cut])

    def flush(self) -> bytes:
        tail = self._inflate.flush() if self._inflate is not None else b""
        data, self._carry = self._carry + tail, b""
        return self._rewrite(data)

    def _rewrite(self, html: bytes) -> bytes:
        if not html or not self._needs_rewrite(html):
            return html
        html = _LINK.sub(self._link, html)
        return _UI_ROOT.sub(self._ui_root, html) if b"setUIRoot(" in html else html

    def _needs_rewrite(self, html: bytes) -> bool:
        """A few substring scans (C speed) instead of the regex: any link that is not under the
        prefix yet, an absolute URL naming the upstream, or a uiRoot other than the prefix."""
        if self._netloc in html or (self._base and self._base in html) or b"='/" in html:
            return True
        if html.count(b'="/') != html.count(b'="' + self._prefixed):
            return True
        at = html.find(b"setUIRoot(")
        return at >= 0 and not html.startswith(self._own_ui_root, at)

    def _link(self, m: re.Match[bytes]) -> bytes:
        quote, url = m.group(1), m.group(2).decode("latin-1")
        return b"=" + quote + map_url(url, self.upstream, self.prefix).encode("latin-1") + quote

    def _ui_root(self, m: re.Match[bytes]) -> bytes:
        quote, url = m.group(1), m.group(2).decode("latin-1")  # uiRoot: a path without a trailing slash
        mapped = map_url(url or "/", self.upstream, self.prefix).rstrip("/")
        return b"setUIRoot(" + quote + mapped.encode("latin-1") + quote + b")"


def is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml")
