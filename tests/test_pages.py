"""The four pages over HTTP: they render, in both languages, with what each audience may see."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from backend.core.qr import qr_svg

from .conftest import PASSWORD, Api, make_user
from .test_api_tickets import extract_csrf


def test_kiosk_lists_services_in_chinese_by_default(client: FlaskClient) -> None:
    html = client.get("/s/demo/kiosk").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    names = ("缴费充值", "补换卡", "业务办理", "宽带业务", "投诉建议")
    for code, name in zip("ABCDE", names, strict=True):
        assert f'data-service="{code}"' in html and name in html
    assert 'data-service="V"' not in html  # VIP is issued by staff
    assert '<script src="/static/vendor/socket.io.min.js">' in html  # served here, no CDN
    assert '<script type="module" src="/static/js/pages/kiosk.js">' in html
    assert "cdn" not in html.lower()


def test_language_toggle_is_kept_in_a_cookie(client: FlaskClient) -> None:
    english = client.get("/s/demo/kiosk?lang=en")
    assert "Top-up &amp; bill payment" in english.get_data(as_text=True)
    assert "lang=en" in english.headers.get("Set-Cookie", "")
    again = client.get("/s/demo/kiosk").get_data(as_text=True)
    assert 'lang="en"' in again


def test_browser_language_is_the_default(client: FlaskClient) -> None:
    html = client.get("/s/demo/kiosk", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert 'lang="en"' in html.get_data(as_text=True)


def test_printed_ticket_has_label_and_a_qr_code_to_its_status_page(
    client: FlaskClient, api: Api
) -> None:
    ticket = api.issue("A")
    html = client.get(ticket["print_url"]).get_data(as_text=True)
    assert ticket["label"] in html
    assert "<svg" in html and "<?xml" not in html
    # The QR code on the page is exactly the one that encodes the status page's address.
    assert str(qr_svg(f"http://localhost/t/{ticket['token']}")) in html
    # It prints on the kiosk's 80 mm receipt paper: the stylesheet it links sets that page size.
    css = ""
    for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
        with client.get(href) as sheet:
            css += sheet.get_data(as_text=True)
    assert re.search(r"@page\s*\{\s*size:\s*80mm\b", css)


def test_qr_code_encodes_the_public_base_url_when_set(app: Flask, api: Api) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://hall.example.cn"
    ticket = api.issue("A")
    html = app.test_client().get(ticket["print_url"]).get_data(as_text=True)
    assert str(qr_svg(f"https://hall.example.cn/t/{ticket['token']}")) in html


def test_status_page_and_a_wrong_token(client: FlaskClient, api: Api) -> None:
    ticket = api.issue("C")
    page = client.get(ticket["status_url"])
    assert page.status_code == 200 and ticket["label"] in page.get_data(as_text=True)
    missing = client.get("/t/does-not-exist")
    assert missing.status_code == 404
    assert "此号码链接无效或已过期" in missing.get_data(as_text=True)


def test_print_page_of_another_store_is_404(client: FlaskClient, api: Api) -> None:
    ticket = api.issue("A")
    assert client.get(f"/s/other/kiosk/ticket/{ticket['token']}").status_code == 404


def test_display_renders_for_the_store(client: FlaskClient) -> None:
    page = client.get("/s/demo/display")
    assert page.status_code == 200
    assert "示范营业厅" in page.get_data(as_text=True)
    assert client.get("/s/nowhere/display").status_code == 404


def test_counter_requires_login_and_the_right_store(app: Flask, client: FlaskClient) -> None:
    anonymous = client.get("/s/demo/counter")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    make_user(app, "desk", "demo")
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "desk", "password": PASSWORD, "csrf_token": csrf})
    page = client.get("/s/demo/counter?counter=2").get_data(as_text=True)
    config = re.search(r'id="page-config" type="application/json">(.*?)</script>', page, re.S)
    assert config and '"counter": 2' in config.group(1).replace('"counter":2', '"counter": 2')
    assert client.get("/s/other/counter").status_code == 403


def test_login_redirects_only_to_local_pages(app: Flask, client: FlaskClient) -> None:
    make_user(app, "desk", "demo")
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "username": "desk",
            "password": PASSWORD,
            "csrf_token": csrf,
            "next": "https://evil.example/steal",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/s/demo/counter"


def test_login_form_without_csrf_is_refused(app: Flask, client: FlaskClient) -> None:
    make_user(app, "desk", "demo")
    response = client.post("/login", data={"username": "desk", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/s/demo/counter").status_code == 302


def test_unknown_page_is_a_friendly_404(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "未找到" in page.get_data(as_text=True)


def test_the_vendored_chart_library_is_the_installed_one() -> None:
    """static/vendor/chart.umd.min.js is `make vendor`'s copy of the npm package the lock pins."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    installed = (root / "node_modules/chart.js/dist/chart.umd.min.js").read_text()
    served = (root / "static/vendor/chart.umd.min.js").read_text()
    without_map = "\n".join(
        line for line in installed.splitlines() if not line.startswith("//# sourceMappingURL=")
    )
    assert served.rstrip("\n") == without_map.rstrip("\n")
    assert "sourceMappingURL" not in served  # no request for a map the site does not serve
