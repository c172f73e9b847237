"""MovieLens from GroupLens: a local copy, or one download into a cache, checked before use."""

import hashlib
import os
import re
import zipfile
from urllib.request import urlopen

from ._assemble import _warn
from .._progress import progress_bar
from ._readers import _check_policies, _grouplens_format, _read_grouplens
from ._source import _Source

_BASE_URL = "https://files.grouplens.org/datasets/movielens/"

# variant -> (archive, its top folder, ratings file, MD5 of the archive).
#
# The MD5 values are the ones GroupLens publishes beside each archive (<archive>.md5). Each was
# cross-checked against several independent public projects that verify the same downloads;
# none is made up here. The two "latest" archives are rebuilt by GroupLens from time to time,
# so no fixed value can be known: at download time their MD5 is read from GroupLens's own .md5
# file, and when that file cannot be fetched the archive is checked structurally only (a valid
# zip holding the ratings file with the expected header; reading it then checks every member's
# CRC-32).
_VARIANTS = {
    "100k": ("ml-100k.zip", "ml-100k", "u.data", "0e33842e24a9c977be4e0107933c0723"),
    "1m": ("ml-1m.zip", "ml-1m", "ratings.dat", "c4d9eecfca2ab87c1945afe126590906"),
    "10m": ("ml-10m.zip", "ml-10M100K", "ratings.dat", "ce571fd55effeba0271552578f2648bd"),
    "20m": ("ml-20m.zip", "ml-20m", "ratings.csv", "cd245b17a1ae2cc31bb14903e1204af3"),
    "25m": ("ml-25m.zip", "ml-25m", "ratings.csv", "6b51fb2759a8657d3bfcbfc42b592ada"),
    "32m": ("ml-32m.zip", "ml-32m", "ratings.csv", "d472be332d4daa821edc399621853b57"),
    "latest-small": ("ml-latest-small.zip", "ml-latest-small", "ratings.csv", None),
    "latest": ("ml-latest.zip", "ml-latest", "ratings.csv", None),
}
_TIMEOUT_S = 60


def movielens(variant, path=None, cache_dir=None, *, download=True, duplicates="keep", on_bad_line="error",
              like=None, unknown="drop", show_progress=True):
    """Load a GroupLens MovieLens data set as :class:`Interactions`.

    Parameters
    ----------
    variant : {"100k", "1m", "10m", "20m", "25m", "32m", "latest-small", "latest"}
        Which data set. Its ratings file is ``u.data`` (100k), ``ratings.dat`` (1m, 10m) or
        ``ratings.csv`` (the others).
    path : str or os.PathLike, optional
        A local copy: the ratings file itself, the extracted folder (``ml-100k/``, or the
        folder that holds it), or the GroupLens zip archive. Nothing is downloaded.
    cache_dir : str or os.PathLike, optional
        Without ``path``: where the GroupLens archive is kept. Default: ``$TURBOREC_DATA`` when
        set, else ``~/.cache/turborec``.
    download : bool, default True
        Without ``path``, whether a missing archive may be downloaded (once) into the cache.
    duplicates, on_bad_line, like, unknown
        As for :func:`read_csv` (``like``: map with a training set's mappers).
    show_progress : bool, default True
        A progress bar (bytes) while the archive downloads.

    Returns
    -------
    Interactions
        Integer user and item ids, float32 ratings and int64 Unix-second timestamps;
        ``source`` records the file, the format and ``variant``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not hold the variant's ratings file, or the archive is missing and
        ``download=False``. The message says where to put the files.
    OSError
        The download failed (e.g. offline); the message says where to put the archive by hand.
    ValueError
        The archive fails its checksum, or the file is not the variant's format.

    Notes
    -----
    Without ``path``, the archive ``<cache>/ml-<variant>.zip`` is fetched from GroupLens once,
    written under a temporary name, checked against the MD5 that GroupLens publishes, and only
    then moved into place; later calls check the cached archive again and read the ratings
    straight from it (nothing is extracted). Archives placed there by hand are used the same way.

    Examples
    --------
    >>> ratings = movielens("100k", path="data/ml-100k")  # doctest: +SKIP
    >>> ratings.shape  # doctest: +SKIP
    (943, 1682)
    """
    if variant not in _VARIANTS:
        raise ValueError(f"variant: expected one of {tuple(_VARIANTS)}, got {variant!r}")
    _check_policies(duplicates, on_bad_line, like, unknown)
    if path is not None:
        source = _local_source(variant, path)
    else:
        source = _cached_source(variant, cache_dir, download, show_progress)
    expected = _VARIANTS[variant][2]
    fmt = _grouplens_format(source)
    if fmt != expected:
        raise ValueError(f"{source.name}: MovieLens {variant} ratings come as {expected}, but this file is "
                         f"in the {fmt} format (wrong variant?)")
    inter, messages = _read_grouplens(source, duplicates, on_bad_line, fmt, like=like, unknown=unknown)
    inter.source["variant"] = variant
    _warn(messages)
    return inter


def _local_source(variant, path):
    archive, folder, ratings, _ = _VARIANTS[variant]
    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = [os.path.join(path, ratings), os.path.join(path, folder, ratings)]
        for candidate in candidates:
            if os.path.isfile(candidate):
                return _Source(candidate)
        raise FileNotFoundError(f"path: no MovieLens {variant} ratings in {path}: looked for "
                                f"{' and '.join(candidates)} (extract {archive} there, or pass the file itself)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: {path} does not exist (expected MovieLens {variant}'s {ratings}, "
                                f"its folder, or {archive})")
    if zipfile.is_zipfile(path):
        return _Source(path, member=_archive_member(path, folder, ratings))
    return _Source(path)


def _archive_member(archive, folder, ratings):
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
    for name in (f"{folder}/{ratings}", ratings):
        if name in names:
            return name
    nested = sorted(name for name in names if name.endswith("/" + ratings))
    if len(nested) == 1:
        return nested[0]
    raise FileNotFoundError(f"{archive}: expected one {folder}/{ratings} in the archive, found "
                            f"{nested or 'none'}")


def _cache_root(cache_dir=None):
    """Where :func:`movielens` keeps archives: ``cache_dir``, ``$TURBOREC_DATA`` or ``~/.cache/turborec``."""
    if cache_dir is not None:
        return os.fspath(cache_dir)
    return os.environ.get("TURBOREC_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "turborec")


def _cached_source(variant, cache_dir, download, show_progress=True):
    archive, folder, ratings, md5 = _VARIANTS[variant]
    root = _cache_root(cache_dir)
    target = os.path.join(root, archive)
    url = _BASE_URL + archive
    by_hand = (f"download {url} yourself and put it at {target} (or pass path= the archive, the extracted "
               f"folder or its {ratings})")
    if os.path.exists(target):
        if md5 is not None:
            found = _md5(target)
            if found != md5:
                raise ValueError(f"{target}: MD5 {found} does not match GroupLens's {md5} for {archive}; the "
                                 f"file is damaged or another version: delete it, then {by_hand}")
        return _Source(target, member=_archive_member(target, folder, ratings))
    if not download:
        raise FileNotFoundError(f"MovieLens {variant} is not in the cache ({target} is missing) and "
                                f"download=False: {by_hand}")
    _download(variant, url, target, md5, by_hand, show_progress)
    return _Source(target, member=_archive_member(target, folder, ratings))


def _download(variant, url, target, md5, by_hand, show_progress=True):
    archive, folder, ratings, _ = _VARIANTS[variant]
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    partial = target + ".part"
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urlopen(url, timeout=_TIMEOUT_S) as response, open(partial, "wb") as out, progress_bar(
                show_progress, total=_content_length(response), desc=archive, unit="B", unit_scale=True,
                unit_divisor=1024) as bar:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                digest.update(block)
                out.write(block)
                bar.update(len(block))
    except OSError as exc:  # URLError, timeouts and a full disk are all OSErrors
        _remove(partial)
        raise OSError(f"could not download MovieLens {variant} from {url} ({exc}); {by_hand}") from exc
    expected = md5 or _published_md5(url)
    try:
        if expected is not None and digest.hexdigest() != expected:
            raise ValueError(f"{url}: downloaded MD5 {digest.hexdigest()} does not match {expected}; nothing "
                             f"was kept. Try again, or {by_hand}")
        if not zipfile.is_zipfile(partial):
            raise ValueError(f"{url}: the download is not a zip archive; nothing was kept. {by_hand}")
        member = _archive_member(partial, folder, ratings)
        if expected is None:  # structural check only (see _VARIANTS)
            fmt = _grouplens_format(_Source(partial, member=member))
            if fmt != ratings:
                raise ValueError(f"{url}: {member} is not in the {ratings} format; nothing was kept. {by_hand}")
    except BaseException:
        _remove(partial)
        raise
    os.replace(partial, target)


def _content_length(response):
    """The size the server announces, in bytes, or None."""
    headers = getattr(response, "headers", None)
    length = headers.get("Content-Length") if headers is not None else None
    return int(length) if length is not None and str(length).strip().isdigit() else None


def _published_md5(url):
    """The MD5 in GroupLens's ``<archive>.md5`` file, or None when it cannot be had."""
    try:
        with urlopen(url + ".md5", timeout=_TIMEOUT_S) as response:
            text = response.read(4096).decode("ascii", "replace")
    except OSError:
        return None
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    return found.group(0).lower() if found else None


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass

