"""Static files are asked for under their content's version and then kept by browsers for a year."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from app.static_files import file_version

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = re.compile(r'(?:href|src|data-vendor-url)="(/(?:bootstrap/)?static/[^"]+)"')


def _version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_pages_ask_for_static_files_under_their_version(client, make_event, as_organiser):
    event = make_event()
    home = client.get("/").text
    assert f'/static/css/zapisy.css?v={_version(STATIC / "css/zapisy.css")}"' in home
    assert f'/static/js/forms.js?v={_version(STATIC / "js/forms.js")}"' in home
    as_organiser("staff", events=[event])
    check_in = client.get(f"/admin/events/{event.id}/check-in").text
    assert f'/static/js/checkin.js?v={_version(STATIC / "js/checkin.js")}"' in check_in
    assert f'/static/js/vendor/jsQR.js?v={_version(STATIC / "js/vendor/jsQR.js")}"' in check_in
    urls = STATIC_URL.findall(home) + STATIC_URL.findall(check_in)
    assert any(url.startswith("/bootstrap/static/") for url in urls)  # Bootstrap-Flask's files too
    assert urls and all(re.search(r"\?v=[0-9a-f]{12}$", url) for url in urls), urls


def test_a_versioned_file_is_kept_for_a_year_and_an_unversioned_one_revalidated(client):
    url = re.search(r'href="(/static/css/zapisy.css\?v=\w+)"', client.get("/").text)[1]
    kept = client.get(url)
    assert kept.status_code == 200
    assert kept.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for stale in ("/static/css/zapisy.css", "/static/css/zapisy.css?v=000000000000"):
        response = client.get(stale)
        assert response.status_code == 200 and "max-age=31536000" not in response.headers.get("Cache-Control", "")


def test_the_version_follows_the_file_content(tmp_path):
    asset = tmp_path / "site.js"
    asset.write_text("one", encoding="utf-8")
    first = file_version(str(tmp_path), "site.js")
    assert first == file_version(str(tmp_path), "site.js")
    asset.write_text("two!", encoding="utf-8")
    assert file_version(str(tmp_path), "site.js") not in (None, first)
    assert file_version(str(tmp_path), "missing.js") is None
    assert file_version(str(tmp_path), "../etc/passwd") is None
