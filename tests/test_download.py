"""The downloader against real HTTP servers on 127.0.0.1 serving ../shared/mnist.

Each "mirror" is a ``ThreadingHTTPServer`` in a thread whose handler can misbehave the
ways real mirrors do: serve a damaged file, drop the connection mid-file, stall, or 404.
Only the two small t10k files are served, to keep the tests quick. HTTPS mirrors serve a
certificate from a CA made for the test (``trustme``), which the client trusts through
``SSL_CERT_FILE`` the way OpenSSL reads it, or does not.
"""

from __future__ import annotations

import gzip
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import trustme

from drawdigit.download import (
    ATTEMPTS_PER_MIRROR,
    ENV_MIRRORS,
    MIRRORS,
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    default_mirrors,
    download_mnist,
    https_context,
)
from drawdigit.mnist import TEST_IMAGES, TEST_LABELS, read_idx, verify_file

SMALL = [TEST_LABELS, TEST_IMAGES]


class Mirror(ThreadingHTTPServer):
    """A loopback mirror; its attributes say how it behaves and record what it was asked."""

    daemon_threads = True

    def __init__(self, files: dict[str, bytes], behaviour: str = "ok", **options) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.files = files  # URL file name -> body
        self.behaviour = behaviour  # ok | drop | stall
        self.drops = options.get("drops")  # None: always drop; n: the first n requests
        self.support_range = options.get("support_range", False)
        self.release = threading.Event()  # lets stalled handlers finish at teardown
        self.requests: list[tuple[str, str | None]] = []
        tls: ssl.SSLContext | None = options.get("tls")  # a server context: HTTPS
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server_address[1]}/mnist/"


class MirrorHandler(BaseHTTPRequestHandler):
    server: Mirror

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        mirror = self.server
        mirror.requests.append((self.path, self.headers.get("Range")))
        body = mirror.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if mirror.support_range and match:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        self.end_headers()
        rest = body[start:]
        dropping = mirror.behaviour == "drop" and (mirror.drops is None or mirror.drops > 0)
        if dropping:
            if mirror.drops is not None:
                mirror.drops -= 1
            self.wfile.write(rest[: len(rest) // 2])  # announce it all, send half, hang up
            self.wfile.flush()
            self.close_connection = True
        elif mirror.behaviour == "stall":
            self.wfile.write(rest[:1000])
            self.wfile.flush()
            mirror.release.wait(10)
            self.close_connection = True
        else:
            self.wfile.write(rest)


@pytest.fixture(scope="module")
def served(mnist_dir: Path) -> dict[str, bytes]:
    """The t10k .gz files as the mirrors serve them."""
    return {f"{name}.gz": (mnist_dir / f"{name}.gz").read_bytes() for name in SMALL}


@pytest.fixture(scope="module")
def corrupted(served: dict[str, bytes]) -> dict[str, bytes]:
    """Valid gzip, valid IDX, one pixel changed: only the checksum can catch it."""
    raw = bytearray(gzip.decompress(served[f"{TEST_IMAGES}.gz"]))
    raw[16 + 784 * 777 + 300] ^= 0x55
    return {**served, f"{TEST_IMAGES}.gz": gzip.compress(bytes(raw), compresslevel=1)}


@pytest.fixture
def start_mirror() -> Iterator[Callable[..., Mirror]]:
    started: list[Mirror] = []

    def start(files: dict[str, bytes], behaviour: str = "ok", **options) -> Mirror:
        mirror = Mirror(files, behaviour, **options)
        threading.Thread(target=mirror.serve_forever, args=(0.05,), daemon=True).start()
        started.append(mirror)
        return mirror

    yield start
    for mirror in started:
        mirror.release.set()
        mirror.shutdown()
        mirror.server_close()


def refused_url() -> str:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def assert_clean(dest: Path, expected: set[str]) -> None:
    """Exactly the expected files, each valid, and no temp file left behind."""
    assert {p.name for p in dest.iterdir()} == expected
    for name in expected:
        verify_file(dest / name)


def test_without_mirrors_given_the_environment_or_the_public_ones_are_used(
    tmp_path: Path, served: dict[str, bytes], start_mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_MIRRORS, raising=False)
    assert default_mirrors() == MIRRORS
    monkeypatch.setenv(ENV_MIRRORS, "  ")
    assert default_mirrors() == MIRRORS

    # An override (here: a dead mirror, then a loopback one) is what a call without
    # mirrors fetches from, in the order given.
    dead, mirror = refused_url(), start_mirror(served)
    monkeypatch.setenv(ENV_MIRRORS, f" {dead}\n {mirror.url} ")
    assert default_mirrors() == (dead, mirror.url)
    download_mnist(tmp_path, files=[TEST_LABELS])
    assert_clean(tmp_path, {f"{TEST_LABELS}.gz"})
    assert [path for path, _range in mirror.requests] == [f"/mnist/{TEST_LABELS}.gz"]


def test_happy_path(
    tmp_path: Path, mnist_dir: Path, served: dict[str, bytes], start_mirror
) -> None:
    mirror = start_mirror(served)
    events: list[DownloadProgress] = []
    dest = tmp_path / "cache"
    assert download_mnist(dest, [mirror.url], events.append, files=SMALL) == dest
    assert_clean(dest, {f"{name}.gz" for name in SMALL})
    np.testing.assert_array_equal(
        read_idx(dest / f"{TEST_IMAGES}.gz"), read_idx(mnist_dir / f"{TEST_IMAGES}.gz")
    )
    for index, name in enumerate(SMALL):
        mine = [e for e in events if e.file == f"{name}.gz"]
        done = [e.bytes_done for e in mine]
        assert done == sorted(done) and done[0] == 0
        assert done[-1] == mine[-1].bytes_total == len(served[f"{name}.gz"])
        assert {(e.mirror, e.files_done, e.files_total) for e in mine} == {(mirror.url, index, 2)}
    assert len([e for e in events if e.file == f"{TEST_IMAGES}.gz"]) > 10  # chunked

    # Already there and valid: nothing is fetched again.
    before = len(mirror.requests)
    download_mnist(dest, [mirror.url], files=SMALL)
    assert len(mirror.requests) == before


def test_invalid_existing_file_is_replaced(
    tmp_path: Path, served: dict[str, bytes], start_mirror
) -> None:
    mirror = start_mirror(served)
    (tmp_path / f"{TEST_LABELS}.gz").write_bytes(b"not gzip at all")
    download_mnist(tmp_path, [mirror.url], files=[TEST_LABELS])
    assert_clean(tmp_path, {f"{TEST_LABELS}.gz"})


def test_corrupted_file_falls_to_next_mirror(
    tmp_path: Path, served: dict[str, bytes], corrupted: dict[str, bytes], start_mirror
) -> None:
    bad = start_mirror(corrupted)
    good = start_mirror(served)
    events: list[DownloadProgress] = []
    download_mnist(tmp_path, [bad.url, good.url], events.append, files=[TEST_IMAGES])
    assert_clean(tmp_path, {f"{TEST_IMAGES}.gz"})
    assert [p for p, _ in bad.requests] == [f"/mnist/{TEST_IMAGES}.gz"]  # no retry of bad data
    assert len(good.requests) == 1
    assert [e.mirror for e in events if e.bytes_done == 0] == [bad.url, good.url]


def test_dropped_connection_falls_to_next_mirror(
    tmp_path: Path, served: dict[str, bytes], start_mirror
) -> None:
    """A mirror without Range support that always hangs up halfway: tried, then left."""
    dropping = start_mirror(served, "drop")
    good = start_mirror(served)
    download_mnist(tmp_path, [dropping.url, good.url], files=[TEST_IMAGES])
    assert_clean(tmp_path, {f"{TEST_IMAGES}.gz"})
    assert len(dropping.requests) == ATTEMPTS_PER_MIRROR
    assert len(good.requests) == 1


def test_dropped_connection_resumes_with_range(
    tmp_path: Path, served: dict[str, bytes], start_mirror
) -> None:
    mirror = start_mirror(served, "drop", drops=1, support_range=True)
    events: list[DownloadProgress] = []
    download_mnist(tmp_path, [mirror.url], events.append, files=[TEST_IMAGES])
    assert_clean(tmp_path, {f"{TEST_IMAGES}.gz"})
    half = len(served[f"{TEST_IMAGES}.gz"]) // 2
    assert [r for _, r in mirror.requests] == [None, f"bytes={half}-"]
    done = [e.bytes_done for e in events]
    assert done == sorted(done)  # resumed, not restarted
    assert done[-1] == len(served[f"{TEST_IMAGES}.gz"])


def test_stalled_mirror_times_out(tmp_path: Path, served: dict[str, bytes], start_mirror) -> None:
    stalled = start_mirror(served, "stall")
    good = start_mirror(served)
    download_mnist(tmp_path, [stalled.url, good.url], timeout=0.3, files=[TEST_LABELS])
    assert_clean(tmp_path, {f"{TEST_LABELS}.gz"})
    assert len(stalled.requests) == 1  # a stall is not retried on the same mirror
    assert len(good.requests) == 1


def test_all_mirrors_bad(
    tmp_path: Path, served: dict[str, bytes], corrupted: dict[str, bytes], start_mirror
) -> None:
    """Labels come through (second mirror); images fail everywhere: error, labels stay."""
    empty = start_mirror({})  # 404 for everything
    bad = start_mirror(corrupted)
    dropping = start_mirror({f"{TEST_IMAGES}.gz": served[f"{TEST_IMAGES}.gz"]}, "drop")
    refused = refused_url()
    mirrors = [empty.url, bad.url, dropping.url, refused]
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, mirrors, files=SMALL)
    message = str(info.value)
    assert message.startswith(f"{TEST_IMAGES}.gz: could not download it from any mirror")
    assert f"{empty.url}{TEST_IMAGES}.gz: HTTP 404" in message
    assert f"{bad.url}{TEST_IMAGES}.gz: checksum mismatch" in message
    assert f"{dropping.url}{TEST_IMAGES}.gz: connection dropped after" in message
    assert f"{refused}{TEST_IMAGES}.gz: cannot connect" in message
    assert_clean(tmp_path, {f"{TEST_LABELS}.gz"})


def test_cancel_mid_download(tmp_path: Path, served: dict[str, bytes], start_mirror) -> None:
    mirror = start_mirror(served)
    cancel = threading.Event()
    events: list[DownloadProgress] = []

    def progress(event: DownloadProgress) -> None:
        events.append(event)
        if event.file == f"{TEST_IMAGES}.gz" and event.bytes_done >= 200_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_mnist(tmp_path, [mirror.url], progress, cancel, files=SMALL)
    assert_clean(tmp_path, {f"{TEST_LABELS}.gz"})  # the finished file stays, no temp file
    total = len(served[f"{TEST_IMAGES}.gz"])
    assert 200_000 <= events[-1].bytes_done < total

    # Cancelled before it starts: nothing is asked for.
    before = len(mirror.requests)
    with pytest.raises(DownloadCancelled):
        download_mnist(tmp_path / "other", [mirror.url], cancel=cancel, files=SMALL)
    assert len(mirror.requests) == before


def test_unknown_file_name_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not MNIST file names: foo"):
        download_mnist(tmp_path / "cache", [], files=[TEST_LABELS, "foo"])
    assert not (tmp_path / "cache").exists()


# --------------------------------------------------------------------------- HTTPS


@pytest.fixture(scope="module")
def loopback_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(loopback_ca: trustme.CA) -> ssl.SSLContext:
    """A server context whose certificate (for 127.0.0.1) the loopback CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    loopback_ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_https_download_verifies_against_the_trusted_ca(
    tmp_path: Path,
    served: dict[str, bytes],
    start_mirror,
    loopback_ca: trustme.CA,
    tls_server: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca_file = tmp_path / "ca.pem"
    loopback_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    mirror = start_mirror(served, tls=tls_server)
    assert mirror.url.startswith("https://127.0.0.1:")
    dest = tmp_path / "cache"
    download_mnist(dest, [mirror.url], files=[TEST_LABELS])
    assert_clean(dest, {f"{TEST_LABELS}.gz"})
    assert [path for path, _range in mirror.requests] == [f"/mnist/{TEST_LABELS}.gz"]


def test_https_mirror_with_an_untrusted_certificate_is_refused(
    tmp_path: Path,
    served: dict[str, bytes],
    start_mirror,
    tls_server: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Signed by a CA nobody trusts: no byte is taken from it; the next mirror serves."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    untrusted = start_mirror(served, tls=tls_server)
    dest = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        download_mnist(dest, [untrusted.url], files=[TEST_LABELS])
    # The same server and files as the test above: only the CA differs, so this is the
    # certificate check failing (in the user's words), before any request was sent.
    why = "the secure connection failed: the server's certificate is not trusted"
    assert f"{untrusted.url}{TEST_LABELS}.gz: cannot connect: {why}" in str(info.value)
    assert untrusted.requests == []
    assert_clean(dest, set())

    plain = start_mirror(served)
    download_mnist(dest, [untrusted.url, plain.url], files=[TEST_LABELS])
    assert_clean(dest, {f"{TEST_LABELS}.gz"})


def test_https_context_always_carries_ca_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even where the OS store gives nothing (no SSL_CERT_FILE, no system path used):
    certifi's bundle is in the context itself, verification and host names are on."""
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    context = https_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert type(context).__module__.startswith("truststore")  # the OS store is used too
    # truststore's wrapper does not list its anchors; the OpenSSL context inside it does
    # (and is what truststore hands the OS verifier as extra anchors on macOS and Windows).
    assert len(context._ctx.get_ca_certs()) >= 100


def test_tls_libraries_are_imported_only_when_downloading(tmp_path: Path) -> None:
    code = (
        "import sys, drawdigit.download as d; "
        "print(sorted({'truststore', 'certifi'} & set(sys.modules))); "
        "d.https_context(); print(sorted({'truststore', 'certifi'} & set(sys.modules)))"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "['certifi', 'truststore']"]
