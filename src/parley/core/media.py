"""Which files Parley stores, told from their bytes; safe names for them; how long to keep fetching one.

A file's type is what its first bytes say (magic numbers), never its name or the type a client or carrier
declares: a name only *claims* a type, and a claim the bytes contradict is refused (a file named x.jpg holding a
PDF). The allow-list is what MMS carriers take and phones show (JPEG, PNG, GIF, WebP; MP3, AMR, OGG audio; MP4 and
3GP video; vCard; PDF; plain text). Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

# How many leading bytes `sniff` wants to see before it decides (fewer only when the whole file is shorter).
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Kind:
    label: str  # how a refusal names it
    extensions: tuple[str, ...]  # the first one is what a name gets when it has none that fits


ALLOWED: dict[str, Kind] = {
    "image/jpeg": Kind("JPEG image", (".jpg", ".jpeg", ".jpe", ".jfif")),
    "image/png": Kind("PNG image", (".png",)),
    "image/gif": Kind("GIF image", (".gif",)),
    "image/webp": Kind("WebP image", (".webp",)),
    "audio/mpeg": Kind("MP3 audio file", (".mp3",)),
    "audio/amr": Kind("AMR audio file", (".amr",)),
    "audio/amr-wb": Kind("AMR-WB audio file", (".awb", ".amr")),
    "audio/ogg": Kind("OGG audio file", (".ogg", ".oga", ".opus")),
    "video/mp4": Kind("MP4 video", (".mp4", ".m4v")),
    "video/3gpp": Kind("3GP video", (".3gp", ".3gpp")),
    "video/3gpp2": Kind("3G2 video", (".3g2", ".3gpp2")),
    "text/vcard": Kind("vCard", (".vcf", ".vcard")),
    "application/pdf": Kind("PDF document", (".pdf",)),
    "text/plain": Kind("plain text file", (".txt", ".text")),
}
ALLOWED_SUMMARY = "JPEG, PNG, GIF or WebP images; MP3, AMR or OGG audio; MP4 or 3GP video; vCard; PDF; plain text"
TEXT_TYPES = frozenset({"text/plain", "text/vcard"})

_BY_EXTENSION: dict[str, str] = {}
for _type, _kind in ALLOWED.items():
    for _ext in _kind.extensions:
        _BY_EXTENSION.setdefault(_ext, _type)  # .amr names AMR (narrow band), the common one

# Types a client or carrier may declare, as their usual aliases.
_DECLARED_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-amr": "audio/amr",
    "application/ogg": "audio/ogg",
    "text/x-vcard": "text/vcard",
    "text/directory": "text/vcard",
    "application/x-pdf": "application/pdf",
}

# A claim the bytes may still satisfy: MP4 and 3GP are one container (ISO BMFF) whose brand a phone writes as it
# pleases; AMR files are named .amr whatever their band; a vCard is plain text.
_COMPATIBLE = frozenset(
    {
        ("video/mp4", "video/3gpp"),
        ("video/mp4", "video/3gpp2"),
        ("video/3gpp", "video/mp4"),
        ("video/3gpp", "video/3gpp2"),
        ("video/3gpp2", "video/mp4"),
        ("video/3gpp2", "video/3gpp"),
        ("audio/amr", "audio/amr-wb"),
        ("audio/amr-wb", "audio/amr"),
        ("text/plain", "text/vcard"),
    }
)

# ISO BMFF major brands (ISO/IEC 14496-12 §4.3, the MP4 registration authority's list) of MP4 video. M4A (audio),
# HEIC/HEIF (pictures) and QuickTime ("qt  ") share the container but are not on the allow-list.
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41", b"mp42", b"avc1",
     b"M4V ", b"M4VH", b"M4VP", b"mmp4", b"MSNV", b"dash", b"NDAS", b"f4v ", b"XAVC", b"MP4 "}
)  # fmt: skip

_TEXT_CONTROLS = frozenset("\t\n\v\f\r")


def _is_mp3_frame(head: bytes) -> bool:
    """An MPEG-1/2/2.5 Layer III frame header (ISO/IEC 11172-3 §2.4.2.3): 11 sync bits, no reserved field."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def _is_id3(head: bytes) -> bool:
    """An ID3v2 tag (id3.org, ID3v2.4 §3.1): "ID3", version 2–4, and a syncsafe size (each byte below 0x80)."""
    return len(head) >= 10 and head[:3] == b"ID3" and head[3] in (2, 3, 4) and all(b < 0x80 for b in head[6:10])


class TextCheck:
    """Whether bytes fed in order are text: UTF-8 (a BOM allowed) without control characters other than tab,
    line and page breaks. Fed chunk by chunk, so a whole file is checked without holding it."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._ok = True

    def feed(self, data: bytes, *, final: bool = False) -> bool:
        if not self._ok:
            return False
        try:
            text = self._decoder.decode(data, final=final)
        except UnicodeDecodeError:
            self._ok = False
            return False
        self._ok = not any(ch < " " and ch not in _TEXT_CONTROLS for ch in text)
        return self._ok

    def finish(self) -> bool:
        return self.feed(b"", final=True)


def _is_vcard(head: bytes) -> bool:
    """RFC 6350 §3.3: a vCard starts with BEGIN:VCARD (names are case-insensitive)."""
    start = head.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    return start[:11].upper() == b"BEGIN:VCARD"


def sniff(head: bytes, *, complete: bool) -> str | None:
    """The allowed type ``head`` (a file's first bytes, `SNIFF_BYTES` of them unless ``complete``: the whole
    file) is, or None when it is none of them."""
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:5] == b"%PDF-":
        return "application/pdf"
    if head[:9] == b"#!AMR-WB\n":  # RFC 4867 §5: the storage format's magic numbers
        return "audio/amr-wb"
    if head[:6] == b"#!AMR\n":
        return "audio/amr"
    if head[:5] == b"OggS\x00":  # RFC 3533 §6: capture pattern, stream structure version 0
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"3g2"):
            return "video/3gpp2"
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "video/mp4" if brand in _MP4_BRANDS else None
    if _is_id3(head) or _is_mp3_frame(head):
        return "audio/mpeg"
    check = TextCheck()
    if head and check.feed(head, final=complete):
        return "text/vcard" if _is_vcard(head) else "text/plain"
    return None


def extension(filename: str) -> str:
    """The name's extension, lower case with its dot ("" when it has none)."""
    base = re.split(r"[/\\]", filename)[-1]
    stem, dot, ext = base.rpartition(".")
    return f".{ext.lower()}" if dot and stem.strip(". ") and ext else ""


def claimed_type(filename: str) -> str | None:
    """The allowed type a name's extension claims (None: an extension of no allowed type, or none)."""
    return _BY_EXTENSION.get(extension(filename))


def declared(content_type: str | None) -> str | None:
    """A declared Content-Type as one of the allowed types (None: a generic or unknown one)."""
    if not content_type:
        return None
    bare = content_type.split(";", 1)[0].strip().lower()
    bare = _DECLARED_ALIASES.get(bare, bare)
    return bare if bare in ALLOWED else None


def label(content_type: str) -> str:
    kind = ALLOWED.get(content_type)
    return kind.label if kind else content_type


def _article(words: str) -> str:
    # Initialisms are read letter by letter: "an MP3", "a PNG".
    return f"an {words}" if words[:1] in "AEIOU" or words.startswith("MP") else f"a {words}"


def contradiction(filename: str, sniffed: str, declared_type: str | None = None) -> str | None:
    """Why the bytes (of type ``sniffed``) are not what the name (or, for a name without an extension of an
    allowed type, the declared type) claims; None when they are."""
    claim = claimed_type(filename) or declared(declared_type)
    if claim is None or claim == sniffed or (claim, sniffed) in _COMPATIBLE:
        return None
    return f"is named as {_article(label(claim))} but its bytes are {_article(label(sniffed))}"


def describe_size(size: int) -> str:
    mib = 1024 * 1024
    return f"{size / mib:g} MB" if size >= mib and size % (mib // 4) == 0 else f"{size:,} bytes"


# --- names ---------------------------------------------------------------------------------------------------

MAX_FILENAME = 150
_RESERVED = re.compile(r'[<>:"|?*]')  # Windows refuses these in names; '/' and '\\' cut the path first
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)


def _visible(ch: str) -> str:
    category = unicodedata.category(ch)
    if category in ("Zs", "Zl", "Zp") or ch in "\t\n\r\v\f":
        return " "
    # Cc: controls (NUL among them); Cf: format characters (a right-to-left override makes "gpj.exe" read as
    # "exe.jpg"); Cs: lone surrogates, which no encoder writes; Cn: unassigned.
    return "" if category in ("Cc", "Cf", "Cs", "Cn") else ch


def safe_filename(name: str, content_type: str | None = None, *, limit: int = MAX_FILENAME) -> str:
    """A name that is safe to store and to hand to a browser or a carrier: the last path component only, no
    control, format or reserved characters, no leading dot, at most ``limit`` characters, never empty; with
    ``content_type``, its extension is one of that type's (".html" holding text becomes "x.html.txt")."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = unicodedata.normalize("NFC", "".join(_visible(ch) for ch in base))
    cleaned = _RESERVED.sub("_", re.sub(r" +", " ", cleaned)).strip(" .")
    stem, dot, ext = cleaned.rpartition(".")
    if dot and stem and 0 < len(ext) <= 10 and ext.isalnum():
        stem, suffix = stem.rstrip(" ."), f".{ext}"
    else:
        stem, suffix = cleaned, ""
    kind = ALLOWED.get(content_type) if content_type else None
    if kind is not None and suffix.lower() not in kind.extensions:
        stem, suffix = f"{stem}{suffix}", kind.extensions[0]
    stem = stem or "file"
    if stem.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    stem = unicodedata.normalize("NFC", stem[: limit - len(suffix)]).rstrip(" .") or "file"
    return f"{stem}{suffix}"[:limit]


# --- fetching ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """When to try fetching an inbound attachment again: after each of ``delays`` in turn, then every ``then``,
    until the tries so far have spanned ``give_up_after``. Counted from the attempts alone, so it needs no
    column for the first try and a fetch that keeps crashing a worker still ends."""

    delays: tuple[timedelta, ...] = (
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
    )
    then: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th try (1 for the first)."""
        return self.delays[attempt - 1] if 1 <= attempt <= len(self.delays) else self.then

    def next_delay(self, attempts: int) -> timedelta | None:
        """The wait before the next try after ``attempts`` tries failed; None: give up."""
        spent = sum((self.delay(i) for i in range(1, attempts)), timedelta())
        wait = self.delay(max(1, attempts))
        return None if spent + wait > self.give_up_after else wait


# --- signed URLs -----------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"([0-9A-Za-z_-]{1,24})\.([0-9a-f]{1,12})\.([0-9A-Za-z_-]{43})")


def _signature(key: bytes, media_id: str, expires: int) -> str:
    digest = hmac.new(key, f"media:{media_id}.{expires:x}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(key: bytes, media_id: str, expires: int) -> str:
    """A URL-safe token naming a file until ``expires`` (Unix seconds), signed with HMAC-SHA256 under ``key``:
    ``<id>.<expiry, hex>.<signature>``. Without the key neither the signature nor another file's token can be made."""
    return f"{media_id}.{expires:x}.{_signature(key, media_id, expires)}"


def read_token(key: bytes, token: str) -> tuple[str, int] | None:
    """The (file id, expiry) a token names when its signature holds under ``key``; None for anything else."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        return None
    media_id, expires = found[1], int(found[2], 16)
    if not hmac.compare_digest(found[3], _signature(key, media_id, expires)):
        return None
    return media_id, expires
