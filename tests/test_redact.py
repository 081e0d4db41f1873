"""Redaction of credentials in hrefs: the signed-URL forms of the common providers."""

from __future__ import annotations

import pytest

from sarcube.io import redact, redact_text


@pytest.mark.parametrize(
    ("href", "secrets", "kept"),
    [
        (  # Azure blob SAS
            "https://acct.blob.core.windows.net/c/S1A_vv.tif?sv=2022-11-02&st=2026-01-01"
            "&se=2026-12-31&sr=b&sp=r&sig=Zm9vYmFy%2Bc2VjcmV0%3D",
            ["Zm9vYmFy", "2026-12-31"],
            "https://acct.blob.core.windows.net/c/S1A_vv.tif?",
        ),
        (  # S3 presigned (SigV4, temporary credentials)
            "https://bucket.s3.us-west-2.amazonaws.com/rtc/vv.tif?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAEXAMPLE%2F20261201%2Fus-west-2%2Fs3%2Faws4_request"
            "&X-Amz-Date=20261201T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLETOKEN&X-Amz-Signature=0123456789abcdef",
            ["AKIAEXAMPLE", "FwoGZXIvYXdzEXAMPLETOKEN", "0123456789abcdef"],
            "https://bucket.s3.us-west-2.amazonaws.com/rtc/vv.tif?",
        ),
        (  # GCS V4 signed URL
            "https://storage.googleapis.com/b/vv.tif?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=sa%40proj.iam.gserviceaccount.com&X-Goog-Signature=a1b2c3d4",
            ["a1b2c3d4", "gserviceaccount"],
            "https://storage.googleapis.com/b/vv.tif?",
        ),
        (  # GCS V2 / CloudFront signed URLs
            "https://d1.cloudfront.net/vv.tif?Expires=1798761600&Signature=abc~def__"
            "&Key-Pair-Id=APKAEXAMPLE&GoogleAccessId=svc%40x.com",
            ["abc~def__", "APKAEXAMPLE", "svc%40x.com", "svc@x.com"],
            "https://d1.cloudfront.net/vv.tif?",
        ),
        (  # token parameters and userinfo
            "https://user:pa55word@data.example.org/vv.tif?token=tok123&page=2",
            ["pa55word", "tok123", "user:"],
            "data.example.org/vv.tif?",
        ),
        (  # GDAL virtual file name around a signed URL
            "/vsicurl/https://h.example.com/vv.tif?access_token=ya29.SECRET&api_key=K3Y",
            ["ya29.SECRET", "K3Y"],
            "/vsicurl/https://h.example.com/vv.tif?",
        ),
        (  # planetary-computer-like SAS with the harmless params kept
            "https://x.blob.core.windows.net/c/a.tif?version=3&sig=S1G",
            ["S1G"],
            "version=3&sig=REDACTED",
        ),
    ],
)
def test_signed_urls_lose_their_secrets(href: str, secrets: list[str], kept: str) -> None:
    out = redact(href)
    for secret in secrets:
        assert secret not in out
    assert kept in out and "REDACTED" in out
    assert redact(out) == out  # idempotent
    message = f"RasterioIOError: '{href}' not recognized (HTTP 403) and again ({href})"
    text = redact_text(message)
    assert all(s not in text for s in secrets) and text.count("REDACTED") >= 2


@pytest.mark.parametrize(
    "href",
    [
        "/data/S1A_vv.tif",
        "file:///data/S1A_vv.tif",
        "https://example.com/S1A_vv.tif",
        "https://example.com/S1A_vv.tif?version=2&bands=vv",
        "s3://bucket/key/vv.tif",
        "C:\\\\data\\\\vv.tif",
    ],
)
def test_hrefs_without_secrets_are_unchanged(href: str) -> None:
    assert redact(href) == href
    assert redact_text(f"cannot open {href}") == f"cannot open {href}"
