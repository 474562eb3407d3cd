"""SPEC §9/§13: the station page's static files are served by the API without credentials,
with a policy that lets the page load only its own files and talk only to its own origin."""

from __future__ import annotations

import httpx


async def test_station_files_are_public(anon_client: httpx.AsyncClient) -> None:
    r = await anon_client.get("/station/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for path in ("js/main.js", "js/live.js", "station.css", "vendor/uplot/uPlot.esm.js"):
        asset = await anon_client.get(f"/station/{path}")
        assert asset.status_code == 200, path
    assert "javascript" in (await anon_client.get("/station/js/main.js")).headers["content-type"]
    licence = await anon_client.get("/station/vendor/uplot/LICENSE")
    assert "MIT" in licence.text or "Permission is hereby granted" in licence.text


async def test_station_without_slash_redirects_and_unknown_files_are_404(
    anon_client: httpx.AsyncClient,
) -> None:
    r = await anon_client.get("/station")
    assert r.status_code == 308
    assert r.headers["location"] == "/station/"
    assert (await anon_client.get("/station/nothing-here.js")).status_code == 404
    assert (await anon_client.get("/station/../api/config.py")).status_code == 404


async def test_the_page_keeps_only_the_token() -> None:
    """The page's code writes nothing to storage but the token (no patient data in the
    browser) and never puts patient data in a URL (it has no routes with ids)."""
    from api.station import STATIC

    code = "\n".join(p.read_text() for p in (STATIC / "js").glob("*.js"))
    assert "localStorage" not in code
    assert code.count("sessionStorage.setItem(") == 1
    assert "sessionStorage.setItem(TOKEN_KEY, data.access_token)" in code
    assert "history.pushState" not in code
    assert "location.hash =" not in code
