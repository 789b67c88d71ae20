"""Hostile mail as an attacker writes it (issue 29): a reply of nothing but quote markers, a huge
quoted reply, tens of thousands of MIME parts, parts nested a thousand deep, hundreds of
attachments, an encoded line break in From. Built as raw bytes, so nothing on the way tidies them."""

from __future__ import annotations

from email.utils import make_msgid


def _headers(sender: str, to: str, extra: str = "") -> str:
    return (
        f"From: Anna <{sender}>\r\nTo: {to}\r\nSubject: Re: your case\r\n"
        f"Message-ID: {make_msgid(domain='contoso.example')}\r\nMIME-Version: 1.0\r\n{extra}"
    )


def quote_markers(sender: str, to: str, pairs: int = 15_000) -> bytes:
    """ "hello" and then one line of `pairs` times "> " (30 KB by default), as quoted-printable."""
    line = "> " * pairs
    # quoted-printable soft breaks keep each line under 76 characters; decoded, it is one line
    encoded = "=\r\n".join(line[i : i + 70] for i in range(0, len(line), 70))
    body = "hello\r\n" + encoded.replace(" =\r\n", "=20=\r\n") + "\r\n"
    return (
        _headers(sender, to)
        + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + body
    ).encode("ascii")


def quoted_reply(sender: str, to: str, size: int) -> bytes:
    """A short reply above `size` bytes of deeply quoted lines (without a "wrote:" line)."""
    line = "> " * 36 + "quoted\r\n"
    count = max(1, size // len(line))
    return (
        _headers(sender, to) + "Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n" + line * count
    ).encode("ascii")


def many_parts(sender: str, to: str, parts: int) -> bytes:
    """multipart/mixed of `parts` empty text parts."""
    boundary = "b0undary"
    body = "".join(f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n\r\n" for _ in range(parts))
    return (
        _headers(sender, to)
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\nhello\r\n'
        + body
        + f"--{boundary}--\r\n"
    ).encode("ascii")


def deep_nesting(sender: str, to: str, depth: int) -> bytes:
    """multipart/mixed inside multipart/mixed, `depth` levels, a text part at the bottom."""
    opening = "".join(
        f'--n{level}\r\nContent-Type: multipart/mixed; boundary="n{level + 1}"\r\n\r\n'
        for level in range(depth)
    )
    closing = "".join(f"--n{level}--\r\n" for level in reversed(range(depth + 1)))
    return (
        _headers(sender, to)
        + 'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n'
        + opening
        + f"--n{depth}\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        + closing
    ).encode("ascii")


def many_attachments(sender: str, to: str, count: int) -> bytes:
    """A reply with `count` small attachments."""
    boundary = "att"
    files = "".join(
        f'--{boundary}\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="f{n}.txt"'
        f"\r\n\r\nfile {n}\r\n"
        for n in range(count)
    )
    return (
        _headers(sender, to)
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        + f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nthe files\r\n"
        + files
        + f"--{boundary}--\r\n"
    ).encode("ascii")


def line_break_in_from(sender: str, to: str) -> bytes:
    """A From whose display name is an encoded word holding CR LF."""
    raw = _headers(sender, to).replace(
        f"From: Anna <{sender}>", f"From: =?utf-8?q?Anna=0D=0ABcc=3A_x?= <{sender}>"
    )
    return (raw + "Content-Type: text/plain\r\n\r\nhello\r\n").encode("ascii")


def many_headers(sender: str, to: str, count: int) -> bytes:
    """A reply with `count` extra header fields."""
    extra = "".join(f"X-Filler-{n}: {n}\r\n" for n in range(count))
    return (_headers(sender, to, extra) + "Content-Type: text/plain\r\n\r\nhello\r\n").encode("ascii")
