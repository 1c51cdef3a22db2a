"""Small files of every allowed type, as their formats' own first bytes make them (the PNG and GIF are whole,
decodable one-pixel pictures; the others are what a sniffer reads: their headers and some body)."""

from __future__ import annotations

import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# A 1×1 red pixel, RGB, 8 bits (PNG specification §11.2).
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + _png_chunk(b"IEND", b"")
)
# A 1×1 transparent GIF, the classic 43 bytes.
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) + b"\xff\xd9"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + bytes(28)
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x64" + bytes(413)
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)
AMR = b"#!AMR\n" + b"\x3c" + bytes(31)
AMR_WB = b"#!AMR-WB\n" + b"\x2c" + bytes(60)
OGG = b"OggS\x00\x02" + bytes(20) + b"\x01\x1eOpusHead" + bytes(20)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
THREE_GP = b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x02\x003gp4" + b"\x00\x00\x00\x08free"
VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\nTEL:+15557654321\r\nEND:VCARD\r\n"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
TEXT = "Hello from Parley — ünïcödé text.\nSecond line.\n".encode()

SAMPLES: dict[str, tuple[bytes, str]] = {
    "jpeg": (JPEG, "image/jpeg"),
    "png": (PNG, "image/png"),
    "gif": (GIF, "image/gif"),
    "webp": (WEBP, "image/webp"),
    "mp3-id3": (MP3_ID3, "audio/mpeg"),
    "mp3-frame": (MP3_FRAME, "audio/mpeg"),
    "amr": (AMR, "audio/amr"),
    "amr-wb": (AMR_WB, "audio/amr-wb"),
    "ogg": (OGG, "audio/ogg"),
    "mp4": (MP4, "video/mp4"),
    "3gp": (THREE_GP, "video/3gpp"),
    "vcard": (VCARD, "text/vcard"),
    "pdf": (PDF, "application/pdf"),
    "text": (TEXT, "text/plain"),
}
