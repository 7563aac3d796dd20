"""Download MNIST from the public mirrors, only when the user asks for it.

Each missing or damaged file is fetched from the mirrors in turn. A file is streamed into a
temp file beside its final place (so a crash never leaves a half file under the real name),
checked against the MD5 of its *decompressed* bytes (mirrors use different gzip wrappers),
then renamed into place. A connection dropped mid-file is resumed with an HTTP Range request
when the server allows it, else started over; a mirror that keeps failing, answers with an
error or serves a file whose checksum is wrong is left for the next one. The standard
library's ``urllib`` does the transfer; HTTPS certificates are checked by :func:`https_context`
(the OS trust store through ``truststore``, plus ``certifi``'s CA bundle), because a frozen app
carries its own OpenSSL, whose built-in CA path is the build machine's and is missing on the
user's (macOS above all): with the default context every HTTPS download would fail there.

Nothing here prints: progress is reported through a callback with :class:`DownloadProgress`,
and cancellation comes in through a ``threading.Event`` checked between chunks.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import ssl
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from drawdigit import __version__
from drawdigit.mnist import MNIST_FILES, MnistError, MnistFile, find_file, read_idx

# The mirrors torchvision and TensorFlow read MNIST from (yann.lecun.com no longer serves it).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# Space-separated mirror URLs used instead of MIRRORS when no mirrors are passed in: an
# internal mirror behind a firewall, or a loopback one in the tests (never the internet).
ENV_MIRRORS = "DRAWDIGIT_MNIST_MIRRORS"

CHUNK_SIZE = 64 * 1024
# Tries per mirror when a transfer breaks off after making progress (resume or restart).
ATTEMPTS_PER_MIRROR = 3


class DownloadError(Exception):
    """A file could not be fetched from any mirror; the message lists each mirror's failure.

    ``summary`` says the same in one short sentence for a window (no URLs, each reason
    once): a resolver error quoted whole, with two URLs, wrapped into an unreadable block.
    """

    def __init__(self, message: str, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = summary or message


def _why(reason: object) -> str:
    """A failed connection's reason in words (``URLError.reason`` or the error itself)."""
    import socket
    import ssl

    if isinstance(reason, socket.gaierror):
        return "no network, or the server's name could not be looked up"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "no answer (timed out)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLCertVerificationError):
        # Most often a company proxy or antivirus that re-signs HTTPS with its own CA,
        # which the OS trust store (truststore) lacks.
        return "the secure connection failed: the server's certificate is not trusted"
    if isinstance(reason, ssl.SSLError):
        return "the secure connection failed"
    return str(reason) or type(reason).__name__


class DownloadCancelled(Exception):
    """The user cancelled; files already completed stay, the one in progress is removed."""


@dataclass(frozen=True)
class DownloadProgress:
    """How far the current file is, for a progress bar (``bytes_total`` None if unknown)."""

    file: str  # e.g. "train-images-idx3-ubyte.gz"
    bytes_done: int
    bytes_total: int | None
    mirror: str
    files_done: int = 0  # files finished before this one, in this call
    files_total: int = 0  # files this call fetches


ProgressCallback = Callable[[DownloadProgress], None]


class _TransferError(Exception):
    """One attempt failed; ``partial`` says whether bytes arrived (worth resuming)."""

    def __init__(self, reason: str, partial: bool = False) -> None:
        super().__init__(reason)
        self.partial = partial


@dataclass
class _Transfer:
    """State of one file's download from one mirror, kept between resume attempts."""

    url: str
    mirror: str
    part: Path
    validator: str | None = None  # ETag or Last-Modified, sent as If-Range on resume


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def https_context() -> ssl.SSLContext:
    """The TLS context every HTTPS download uses: verified, with CA certificates that exist.

    ``truststore`` verifies through the OS (Keychain on macOS, the certificate store on
    Windows, the distribution's CA bundle on Linux), so a CA a company installs is trusted as
    in the browser. ``certifi``'s Mozilla bundle is loaded into it too: on macOS and Windows
    truststore adds those as extra anchors, and anywhere the OS store cannot be read (a
    minimal Linux without ca-certificates) they are what verifies. ``SSL_CERT_FILE`` is
    honoured on Linux as OpenSSL honours it. Imported here, not at module level: only a
    download pays for them, never the app's start.
    """
    import certifi
    import truststore

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=certifi.where())
    return context


def _open(
    transfer: _Transfer, offset: int, timeout: float
) -> tuple[http.client.HTTPResponse, int, int | None]:
    """Send the request; return the response, where its body starts and the full size."""
    headers = {"User-Agent": f"drawdigit/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if transfer.validator:
            headers["If-Range"] = transfer.validator
    request = urllib.request.Request(transfer.url, headers=headers)
    try:
        https = transfer.url.lower().startswith("https:")
        context = https_context() if https else None
        response = urllib.request.urlopen(request, timeout=timeout, context=context)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _TransferError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _TransferError(f"cannot connect: {_why(exc.reason)}") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _TransferError(f"cannot connect: {_why(exc)}") from exc
    transfer.validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
    length_header = response.headers.get("Content-Length")
    length = int(length_header) if length_header and length_header.isdigit() else None
    if offset and response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            response.close()
            raise _TransferError("server answered a resume request with the wrong range")
        total = int(match.group(3)) if match.group(3) != "*" else None
        return response, offset, total
    return response, 0, length  # 200: the whole file (a server without Range support)


def _stream(
    transfer: _Transfer,
    spec: MnistFile,
    report: Callable[[int, int | None], None],
    cancel: threading.Event | None,
    timeout: float,
) -> None:
    """One attempt: (continue to) fill ``transfer.part`` until the announced size arrives."""
    offset = transfer.part.stat().st_size  # > 0 only when an earlier attempt broke off
    response, start, total = _open(transfer, offset, timeout)
    done = start
    with response, open(transfer.part, "r+b" if start else "wb") as out:
        out.seek(start)
        out.truncate()
        report(done, total)
        while True:
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled(f"download of {spec.name}.gz cancelled")
            try:
                chunk = response.read(CHUNK_SIZE)
            except (OSError, http.client.HTTPException) as exc:
                reason = f"connection broken after {done} bytes ({exc or type(exc).__name__})"
                # A stalled server is likely to stall again: leave it for the next mirror
                # rather than spend another `timeout` on it.
                retry = done > start and not isinstance(exc, TimeoutError)
                raise _TransferError(reason, partial=retry) from exc
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            report(done, total)
        out.flush()
        os.fsync(out.fileno())
    if total is not None and done != total:
        # http.client returns b"" at an early EOF instead of raising: count ourselves.
        raise _TransferError(
            f"connection dropped after {done} of {total} bytes", partial=done > start
        )


def _check_download(part: Path) -> None:
    """The fetched bytes must be gzip of exactly the known raw file (MD5 decides)."""
    with open(part, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            raise _TransferError("not a gzip file (an error page?)")


def _fetch(
    spec: MnistFile,
    dest: Path,
    mirrors: Iterable[str],
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
    files_done: int,
    files_total: int,
) -> None:
    """Fetch one file through the mirrors in turn, ending with it valid under its name."""
    filename = f"{spec.name}.gz"
    target = dest / filename
    failures: list[str] = []
    reasons: dict[str, list[str]] = {}  # reason -> the mirrors' hosts that gave it
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest)
        os.close(fd)
        transfer = _Transfer(url, mirror, Path(tmp_name))

        def report(done: int, total: int | None, _mirror: str = mirror) -> None:
            if progress is not None:
                progress(DownloadProgress(filename, done, total, _mirror, files_done, files_total))

        try:
            for attempt in range(1, ATTEMPTS_PER_MIRROR + 1):
                try:
                    _stream(transfer, spec, report, cancel, timeout)
                    _check_download(transfer.part)
                    try:
                        read_idx(transfer.part, spec.md5)
                    except MnistError as exc:
                        reason = str(exc).split(": ", 1)[-1]  # drop the temp file's name
                        raise _TransferError(reason) from exc
                    os.replace(transfer.part, target)
                    return
                except _TransferError as exc:
                    if exc.partial and attempt < ATTEMPTS_PER_MIRROR:
                        continue  # resume (or restart) from the same mirror
                    suffix = f" (after {attempt} tries)" if attempt > 1 else ""
                    failures.append(f"{url}: {exc}{suffix}")
                    host = urllib.parse.urlsplit(mirror).netloc or mirror
                    reasons.setdefault(str(exc), []).append(host)
                    break
        finally:
            with contextlib.suppress(FileNotFoundError):
                transfer.part.unlink()
    if len(reasons) == 1:
        why = next(iter(reasons))
    else:
        why = "; ".join(f"{', '.join(hosts)}: {reason}" for reason, hosts in reasons.items())
    raise DownloadError(
        f"{filename}: could not download it from any mirror:\n  "
        + "\n  ".join(failures or ["no mirrors given"]),
        summary=f"could not download {filename} ({why or 'no mirrors given'}).",
    )


def _is_valid(path: Path | None) -> bool:
    if path is None:
        return False
    spec = MNIST_FILES.get(path.name.removesuffix(".gz"))
    try:
        read_idx(path, spec.md5 if spec else None)
    except MnistError:
        return False
    return True


def default_mirrors() -> tuple[str, ...]:
    """The mirrors to try when the caller names none: ``$DRAWDIGIT_MNIST_MIRRORS``, else
    :data:`MIRRORS`. Read at each call, so the CLI and the app honour it alike."""
    return tuple(os.environ.get(ENV_MIRRORS, "").split()) or MIRRORS


def download_mnist(
    dest: Path | str,
    mirrors: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 30,
    files: Iterable[str] | None = None,
) -> Path:
    """Make ``dest`` hold valid copies of the MNIST files, fetching those missing or bad.

    ``mirrors`` default to :func:`default_mirrors`. ``files`` restricts the work to some of
    the four standard names (default: all four). Files already present and valid are not
    fetched again. Returns ``dest``. Raises :class:`DownloadError` when a file fails on every
    mirror (the files finished before stay), :class:`DownloadCancelled` when ``cancel`` is
    set (no temp file is left behind), ``OSError`` when ``dest`` cannot be made.
    """
    names = list(MNIST_FILES) if files is None else list(files)
    unknown = [name for name in names if name not in MNIST_FILES]
    if unknown:
        raise ValueError(f"not MNIST file names: {', '.join(unknown)}")
    mirrors = default_mirrors() if mirrors is None else tuple(mirrors)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    todo = [MNIST_FILES[name] for name in names if not _is_valid(find_file(dest, name))]
    for index, spec in enumerate(todo):
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled("download cancelled")
        _fetch(spec, dest, mirrors, progress, cancel, timeout, index, len(todo))
    return dest
