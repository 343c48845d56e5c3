"""Tamper evidence for office-issued values: an HMAC-SHA256 signature under the office's key.

Sheet protection is a courtesy (a 16-bit hash, two clicks in LibreOffice), so the budget, project,
department and unit the office pre-filled could be changed unnoticed. When `template` is given a
key it writes the issued values and their signature on the `_meta` sheet; `check` / `collect`
with the same key recompute it and name every issued field whose value changed. The key never
goes into a workbook, and the signature proves who issued the values, not who filled the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OutputError, Text
from .fileio import read_small_file
from .findings import Finding

if TYPE_CHECKING:  # a record is only read here: sign is used by every stage, record is intake's
    from .intake.record import Record

SCHEME = "perfeval-hmac-sha256-v1"
KEY_BYTES = 32


def load_key(path: Path | str, *, create: bool = False) -> bytes:
    """The office's key from `path` (64 hex digits), creating it first when `create` is set.

    A new key file is created with permissions 0600 (owner only) and never overwritten.

    Raises:
        OutputError: the file cannot be created, read, or does not hold a key.
    """
    path = Path(path)
    if create and not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputError(
                path,
                Text(
                    f"无法创建密钥文件（{exc.strerror}）",
                    f"cannot create the key file ({exc.strerror})",
                ),
            ) from None
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    data = _read_key_file(path)
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        raise OutputError(
            path,
            Text(
                "无法读取密钥（应为 64 位十六进制数）",
                "cannot read the key (64 hex digits expected)",
            ),
        ) from None
    if len(key) != KEY_BYTES:
        raise OutputError(
            path,
            Text(
                "密钥长度不对（应为 64 位十六进制数）", "wrong key length (64 hex digits expected)"
            ),
        )
    return key


#: Largest key file read, in bytes: a key is 64 hex digits and a line break.
MAX_KEY_FILE = 4096


def _read_key_file(path: Path) -> bytes:
    return read_small_file(path, MAX_KEY_FILE, Text("密钥文件", "key file"))


def key_id(key: bytes) -> str:
    """A short public name for a key, so a file signed with another key can be told apart."""
    return hashlib.sha256(b"perfeval-key-id" + key).hexdigest()[:12]


def canonical(value: Any) -> str:
    """One text form per value, the same whether it was issued or read back after Excel, WPS or
    LibreOffice saved the file (numbers to 6 decimals, text NFC with whitespace collapsed)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{float(value):.6f}"
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def signature(
    key: bytes,
    form: str,
    version: int,
    workbook_id: str,
    values: dict[str, str],
    spec_sha256: str | None = None,
) -> str:
    """HMAC-SHA256 over the form, its version, the workbook id, the issued values and, in
    templates that embed their spec, the spec text's SHA-256: the rules a workbook carries are
    then the office's as much as its budget is. (Templates made before the spec was embedded
    were signed without it and still verify.)"""
    content: dict[str, Any] = {
        "scheme": SCHEME,
        "form": form,
        "version": version,
        "workbook_id": workbook_id,
        "values": values,
    }
    if spec_sha256 is not None:
        content["spec_sha256"] = spec_sha256
    payload = json.dumps(
        content,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(
    key: bytes,
    form: str,
    version: int,
    workbook_id: str,
    issued: dict[str, Any],
    spec_sha256: str | None = None,
) -> dict[str, str]:
    """The `_meta` rows that carry the signature: signed values, signature, key id."""
    values = {name: canonical(v) for name, v in sorted(issued.items())}
    return {
        "signed_values": json.dumps(values, ensure_ascii=False, sort_keys=True),
        "signature": signature(key, form, version, workbook_id, values, spec_sha256),
        "key_id": key_id(key),
    }


def verify(record: Record, key: bytes) -> list[Finding]:
    """Findings about the signature of `record` (empty when every issued value is intact)."""
    meta = record.meta
    spec = record.spec
    stored, sig = meta.get("signed_values"), meta.get("signature")
    if not stored and not sig:
        return [
            record.finding(
                "E701",
                Text(
                    "工作簿没有签名（不是用 --key 生成的模板）",
                    "the workbook carries no signature (not made with --key)",
                ),
                None,
                "signature",
            )
        ]
    try:
        values = json.loads(stored)
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise ValueError
    except (TypeError, ValueError):
        return [
            record.finding(
                "E701", Text("签名信息损坏", "the signature data is damaged"), None, "signature"
            )
        ]
    spec_sha = meta.get("spec_sha256")
    expected = signature(
        key,
        spec.id,
        record.file_version or 0,
        record.workbook_id or "",
        values,
        spec_sha if isinstance(spec_sha, str) else None,
    )
    if not isinstance(sig, str) or not hmac.compare_digest(expected, sig):
        other = meta.get("key_id") and meta.get("key_id") != key_id(key)
        why = (
            Text("用另一把密钥签名", "signed with another key")
            if other
            else Text(
                "签名与下发时的内容不符，签名信息或表式标识被改动",
                "the signed data or the workbook's identity was altered",
            )
        )
        return [
            record.finding(
                "E702",
                Text(f"签名无效：{why.zh}", f"invalid signature: {why.en}"),
                None,
                "signature",
            )
        ]
    out = []
    for name, issued in sorted(values.items()):
        field = record.fields.get(name)
        now = canonical(field.value if field else None)
        if now != issued:
            out.append(
                record.finding(
                    "E703",
                    Text(
                        f"财政部门下发的「{_label(spec, name)}」被改动：下发时为「{_shown(issued, name)}」，现为「{_shown(now, name)}」",
                        f"issued value {name} was changed: issued '{_shown(issued, name)}', now '{_shown(now, name)}'",
                    ),
                    field or record.where(name),
                    name,
                )
            )
    return out


def _shown(text: str, name: str = "") -> str:
    """A canonical value as a message shows it: amounts as amounts everywhere (320.00)."""
    try:
        number = float(text)
    except ValueError:
        return text if len(text) <= 30 else text[:30] + "…"
    return f"{number:,.2f}" if name.startswith("fund_") else f"{number:g}"


def _label(spec: Any, name: str) -> str:
    from .forms.spec import issuable_fields

    return issuable_fields(spec).get(name, name)
