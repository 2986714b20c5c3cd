"""The authenticator-app enrolment picture: an otpauth:// URL drawn as an inline SVG QR code."""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import quote

import segno
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_secret(device: TOTPDevice) -> str:
    """The key as people type it into an app that cannot scan: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def totp_config_url(device: TOTPDevice, *, issuer: str) -> str:
    # The network's name is the issuer, so a person in several networks tells the entries apart.
    issuer = issuer.replace(":", "")
    label = quote(f"{issuer}:{device.user.get_username()}")
    secret = b32encode(device.bin_key).decode()
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={device.digits}&period={device.step}"
    )


def totp_qr_svg(device: TOTPDevice, *, issuer: str) -> str:
    qr = segno.make(totp_config_url(device, issuer=issuer), error="m")
    return str(qr.svg_inline(scale=5, border=2, dark="#0f172a", light="#ffffff", omitsize=True))
