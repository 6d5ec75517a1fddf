"""herit's HDF5 artifacts: common provenance attributes, fingerprints, and checks.

Every artifact carries, as root attributes, ``herit_format`` (its kind, e.g.
``"grm"``), ``format_version``, ``herit_version``, ``created_utc``,
``command``, ``params`` (JSON), ``inputs`` (JSON fingerprints of the input
files) and ``fingerprint`` (a hash of its own scientific content, so that a
downstream artifact can name exactly what it was built from).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heritcli._version import __version__
from heritcli.errors import ArtifactMismatchError, InputError

#: Current on-disk layout version of each artifact kind.
FORMAT_VERSIONS: dict[str, int] = {"grm": 1, "eigen": 1}


def file_fingerprint(path: str | os.PathLike[str], *, full_hash: bool = True) -> dict[str, Any]:
    """Size, modification time and (optionally) SHA-256 of a file."""
    path = Path(path)
    stat = path.stat()
    record: dict[str, Any] = {
        "path": os.fspath(path),
        "size": stat.st_size,
        "mtime_utc": _dt.datetime.fromtimestamp(stat.st_mtime, tz=_dt.timezone.utc).isoformat(),
    }
    if full_hash:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        record["sha256"] = digest.hexdigest()
    return record


def hash_ids(fid: np.ndarray, iid: np.ndarray) -> str:
    """A hash of an ordered list of (FID, IID) pairs (the sample order of a matrix)."""
    digest = hashlib.sha256()
    for f, i in zip(fid, iid, strict=True):
        digest.update(f"{f}\t{i}\n".encode())
    return digest.hexdigest()


def utc_now() -> str:
    return _dt.datetime.now(tz=_dt.timezone.utc).replace(microsecond=0).isoformat()


def write_root_attrs(
    handle: Any,
    kind: str,
    *,
    command: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    fingerprint: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write the provenance attributes shared by every artifact onto an open h5py file."""
    attrs = handle.attrs
    attrs["herit_format"] = kind
    attrs["format_version"] = FORMAT_VERSIONS[kind]
    attrs["herit_version"] = __version__
    attrs["created_utc"] = utc_now()
    attrs["command"] = command
    attrs["params"] = json.dumps(dict(params), sort_keys=True, default=str)
    attrs["inputs"] = json.dumps(dict(inputs), sort_keys=True, default=str)
    attrs["fingerprint"] = fingerprint
    for key, value in (extra or {}).items():
        attrs[key] = value


def write_strings(group: Any, name: str, values: np.ndarray | list[str]) -> None:
    """Store an array of Python strings as a UTF-8 string dataset."""
    import h5py

    texts = np.ascontiguousarray(np.asarray(values, dtype=str))
    width = texts.dtype.itemsize // 4
    codes = texts.view(np.uint32).reshape(texts.size, width) if width else None
    if codes is not None and (codes.size == 0 or int(codes.max()) < 128):
        # ASCII (nearly every ID and allele): UTF-32 code units narrowed to bytes, which is
        # 20x faster than numpy's str-to-bytes conversion (itself 10x faster than a loop).
        encoded = codes.astype(np.uint8).view(f"S{width}").reshape(texts.shape)
    else:
        # A list comprehension is ~10x faster than np.char.encode on SNP-table sized arrays.
        encoded = np.array([text.encode("utf-8") for text in texts.tolist()], dtype=np.bytes_)
    if encoded.size == 0 or encoded.dtype.itemsize == 0:
        encoded = encoded.astype("S1")
    dtype = h5py.string_dtype("utf-8", length=encoded.dtype.itemsize)
    group.create_dataset(name, data=encoded.astype(dtype))


def read_strings(dataset: Any) -> np.ndarray:
    """Read a UTF-8 string dataset as an array of ``str``.

    Fixed-length ASCII text (what :func:`write_strings` stores for nearly every ID)
    is widened by numpy in one step; anything else is decoded string by string.
    """
    raw = dataset[()]
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "S" and raw.ndim == 1:
        raw = np.ascontiguousarray(raw)
        if raw.size == 0 or int(raw.view(np.uint8).max(initial=0)) < 128:
            return raw.astype(str)
    return np.array(dataset.asstr()[()], dtype=str)


def open_artifact(path: str | os.PathLike[str], kind: str | None) -> Any:
    """Open an herit artifact for reading and check its kind and format version.

    ``kind=None`` accepts any kind herit knows.

    Returns
    -------
    h5py.File
        Open in read-only mode; the caller closes it.

    Raises
    ------
    InputError
        The file is missing, unreadable, or not HDF5 (for example truncated).
    ArtifactMismatchError
        The file is HDF5 but not an herit artifact of ``kind`` in a supported version.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an herit artifact")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"{path} is not a readable HDF5 file ({_h5_reason(exc)})",
            hint="it may be truncated or still being written; rebuild it",
        ) from None
    found = handle.attrs.get("herit_format")
    if isinstance(found, bytes):
        found = found.decode()
    if found is None:
        handle.close()
        raise ArtifactMismatchError(f"{path} is an HDF5 file but not an herit artifact")
    if kind is None and found in FORMAT_VERSIONS:
        kind = str(found)
    if kind is None or found != kind:
        handle.close()
        expected = f"expected '{kind}'" if kind else "which this herit does not know"
        raise ArtifactMismatchError(f"{path} is an herit '{found}' artifact, {expected}")
    version = int(handle.attrs.get("format_version", -1))
    if version != FORMAT_VERSIONS[kind]:
        handle.close()
        raise ArtifactMismatchError(
            f"{path} has {kind} format version {version}; this herit reads version "
            f"{FORMAT_VERSIONS[kind]}",
            hint="rebuild it with this version of herit",
        )
    return handle


def _h5_reason(exc: OSError) -> str:
    text = str(exc)
    for marker in ("file signature not found", "truncated file", "bad object header"):
        if marker in text:
            return marker
    return text.splitlines()[0] if text else type(exc).__name__
