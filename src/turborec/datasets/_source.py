"""Where text comes from: a file or a zip member, read in chunks of lines with universal newlines."""

import io
import os
import zipfile

_CHUNK_CHARS = 1 << 22  # text per parsing step: bounds memory on the 25M-line MovieLens files


class _Source:
    """A text file to read: a path, or a member of a zip archive."""

    def __init__(self, path, member=None, encoding="utf-8"):
        self.path = os.fspath(path)
        self.member = member
        self.encoding = encoding
        self.name = self.path if member is None else f"{self.path}:{member}"
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"encoding: unknown text encoding {encoding!r}") from None

    def open_binary(self):
        if self.member is None:
            return open(self.path, "rb")
        # The member keeps the archive's file open until it is closed itself.
        with zipfile.ZipFile(self.path) as archive:
            return archive.open(self.member)

    def open(self):
        """Text with universal newlines (``\\n``, ``\\r\\n`` and ``\\r`` end a line)."""
        return io.TextIOWrapper(self.open_binary(), encoding=self.encoding, newline=None)

    def chunks(self):
        """Yield ``(number of the first line, lines)``; lines keep their ``\\n``; no BOM."""
        lineno = 1
        with self.open() as stream:
            while True:
                try:
                    lines = stream.readlines(_CHUNK_CHARS)
                except UnicodeDecodeError as exc:
                    raise self._decode_error(exc) from None
                if not lines:
                    return
                if lineno == 1 and lines[0].startswith("\ufeff"):
                    lines[0] = lines[0][1:]
                yield lineno, lines
                lineno += len(lines)

    def first_line(self):
        """``(lineno, line)`` of the first non-blank line, or None for a blank file."""
        lineno = 0
        with self.open() as stream:
            try:
                for lineno, line in enumerate(stream, 1):
                    if lineno == 1:
                        line = line.lstrip("\ufeff")
                    if line.strip():
                        return lineno, line
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from None
        return None

    def _decode_error(self, exc):
        # The text layer does not say where it failed: find the line from the raw bytes.
        with self.open_binary() as raw:
            for lineno, line in enumerate(raw, 1):
                try:
                    line.decode(self.encoding)
                except UnicodeDecodeError as line_exc:
                    bad = line[line_exc.start:line_exc.end]
                    return ValueError(f"{self.name}, line {lineno}: not valid {self.encoding} text "
                                      f"({line_exc.reason}: {bad!r}); pass encoding= (e.g. 'latin-1')")
        return ValueError(f"{self.name}: not valid {self.encoding} text ({exc.reason})")


def _show(line, limit=80):
    line = line.rstrip("\r\n")
    return repr(line if len(line) <= limit else line[:limit] + "...")
