"""Read one entry of a zip archive in memory bounded by what the entry declares.

Two kinds of zip reach the app from outside: a samples export (``samples.import_zip``) and a
model file (``torch.save`` writes a zip; ``torch_file`` reads it). Both read their entries
here, so the rules hold for both:

- an entry is read up to the size it declares, plus one byte, and no further. ``ZipFile.read``
  asks zlib for up to 2 GB at once, then cuts to the declared size: a 1.4 MB file whose
  entry declares 100 bytes and inflates to 1.5 GB took 2.1 GB of memory before zipfile
  found the bad checksum;
- an entry that is encrypted, or compressed by a method other than "stored" or "deflated"
  (what ``zipfile``, ``torch.save`` and every common tool write), is refused by name.
  Reading one raised ``RuntimeError`` or ``NotImplementedError``; bzip2 and LZMA are not
  read at all, because their decompressors cannot be told to stop after N bytes of output
  through zipfile, so a few kB could take gigabytes before the first check;
- anything else that goes wrong reading it (a bad checksum, a truncated stream) is an
  ``ArchiveError`` naming the entry: one exception for the callers to turn into their own.

Plain Python (``zipfile``): the window and ``drawdigit predict`` import it before torch.
"""

from __future__ import annotations

import zipfile
import zlib

# The compression methods read: "stored" and "deflated".
READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}


class ArchiveError(ValueError):
    """A zip entry cannot be read: too large, encrypted, of an unknown method, or damaged.
    The message names the entry and says why, in words for the user."""


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int | None) -> bytes:
    """The bytes of ``info`` in ``archive``: at most its declared size, and at most
    ``max_bytes`` (None: the declared size alone bounds it). Raises ``ArchiveError``."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{name} is encrypted (a password would be needed)")
    if info.compress_type not in READABLE_METHODS:
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise ArchiveError(
            f"{name} is compressed with {method}, which is not read "
            "(only stored or deflated entries are)"
        )
    if max_bytes is not None and info.file_size > max_bytes:
        raise ArchiveError(f"{name} is too large ({info.file_size:,} bytes; at most {max_bytes:,})")
    try:
        with archive.open(info) as entry:
            # read(n) inflates at most n bytes at a time, and zipfile stops at the declared
            # size (its checksum then fails if the entry holds more).
            data = entry.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"{name} is damaged ({exc})") from exc
    except (RuntimeError, NotImplementedError) as exc:  # what zipfile raises for the above
        raise ArchiveError(f"{name} cannot be read ({exc})") from exc
    if len(data) > info.file_size:
        raise ArchiveError(f"{name} holds more than the {info.file_size:,} bytes it declares")
    return data
