"""The web interface over HTTP (no browser): the session, its scopes and owner, the no-JavaScript
speak form, and the guards that keep another site from acting with a signed-in user's key.
tests/api/test_ui_browser.py drives the same pages in Chromium."""
from __future__ import annotations

import base64
import re

import pytest

from api.deps import UI_COOKIE

SENTENCE = "The harbour lights came on one by one as the evening fell."


@pytest.fixture
def signed_in(client):
    """Sign in with a key (by name in `keys`); the client carries the session cookie until the test ends."""
    made = []

    def sign_in(secret: str):
        client.cookies.clear()
        response = client.post("/ui/sign-in", data={"api_key": secret}, follow_redirects=False)
        assert response.status_code == 303, response.text
        made.append(secret)
        return response

    yield sign_in
    client.cookies.clear()


def test_signing_in_keeps_the_key_in_a_strict_http_only_session_cookie(client, keys, signed_in):
    response = signed_in(keys["alice"])
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{UI_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "expires" not in cookie.lower() and "max-age" not in cookie.lower()  # gone when the browser closes
    assert response.headers["location"] == "/ui/speak"
    page = client.get("/ui/speak")
    assert page.status_code == 200 and "Signed in as <strong>alice</strong>" in page.text
    assert keys["alice"] not in page.text  # the key is never written into a page
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert page.headers["cache-control"] == "no-store"

    signed_out = client.post("/ui/sign-out", follow_redirects=False)
    assert signed_out.status_code == 303 and 'Max-Age=0' in signed_out.headers["set-cookie"]


def test_a_wrong_key_is_refused_and_pages_without_a_session_send_you_to_sign_in(client, keys):
    client.cookies.clear()
    refused = client.post("/ui/sign-in", data={"api_key": "vk_not-a-real-key"})
    assert refused.status_code == 401 and 'role="alert"' in refused.text and "set-cookie" not in refused.headers
    for page in ("/ui", "/ui/speak", "/ui/profiles", "/ui/enroll", "/ui/audiobooks", "/ui/songs", "/ui/audit"):
        answer = client.get(page, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/sign-in", page
    client.cookies.set(UI_COOKIE, "vk_forged")
    assert client.get("/ui/speak", follow_redirects=False).headers["location"] == "/ui/sign-in"
    client.cookies.clear()


def test_the_api_takes_the_session_only_from_the_interfaces_own_pages(client, keys, signed_in):
    """A cross-site form or link carries no custom header: the cookie alone opens nothing."""
    signed_in(keys["speak"])
    assert client.get("/v1/voices").status_code == 401
    assert client.get("/v1/voices", headers={"X-Voicekit-UI": "1"}).status_code == 200
    cross_site = client.post("/ui/speak", data={"text": SENTENCE}, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403 and "another site" in cross_site.text
    assert client.post("/ui/sign-in", data={"api_key": keys["speak"]},
                       headers={"Origin": "https://evil.example"}).status_code == 403


def test_the_speak_form_works_without_javascript_and_its_audio_is_ours(client, keys, service, signed_in):
    signed_in(keys["speak"])
    page = client.post("/ui/speak", data={"text": SENTENCE, "voice": "heart", "format": "wav", "rate": "1.1"})
    assert page.status_code == 200, page.text
    source = re.search(r'<audio id="player" controls src="data:audio/wav;base64,([^"]+)"', page.text)
    audio = base64.b64decode(source.group(1))
    found = service.studio.detect(audio)
    mark = re.search(r'<dd id="mark-id"><code>([0-9a-f]{8})</code>', page.text).group(1)
    assert found.watermarked and f"{found.mark_id:08x}" == mark
    words = re.findall(r'<span data-start="([\d.]+)" data-end="([\d.]+)">([^<]+)</span>', page.text)
    assert [w for _, _, w in words] == SENTENCE.rstrip(".").split()
    assert all(float(a) < float(b) for a, b, _ in words)


def test_refusals_come_back_as_the_page_with_the_reason(client, keys, signed_in):
    signed_in(keys["speak"])
    unknown = client.post("/ui/speak", data={"text": SENTENCE, "voice": "profile:0123456789ab"})
    assert unknown.status_code == 404 and 'id="error"' in unknown.text and SENTENCE in unknown.text
    too_long = client.post("/ui/speak", data={"text": "word " * 500})
    assert too_long.status_code == 413 and "audiobook" in too_long.text


def test_each_page_and_its_link_need_the_keys_scope(client, keys, signed_in):
    signed_in(keys["audit"])
    audit = client.get("/ui/audit")
    assert audit.status_code == 200
    nav = re.search(r"<nav.*?</nav>", audit.text, re.S).group(0)
    assert 'href="/ui/audit"' in nav and 'href="/ui/speak"' not in nav and 'href="/ui/enroll"' not in nav
    for page in ("/ui/speak", "/ui/enroll", "/ui/profiles", "/ui/audiobooks", "/ui/songs"):
        refused = client.get(page)
        assert refused.status_code == 403 and "needs the" in refused.text, page
    assert client.post("/ui/speak", data={"text": SENTENCE}).status_code == 403
