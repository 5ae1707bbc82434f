"""Odd input from a kiosk, a phone or an integrator gets a clear 4xx with `{"error", "message"}`,
never a 500: integers beyond 64 bits in bodies and paths, NUL characters, oversized bodies, JSON
under another Content-Type; and a customer's text is normalised before the rules compare it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import Api, kiosk_headers

BEYOND_64_BITS = 12953609866044700672
TICKETS = "/api/v1/stores/demo/tickets"
BOOK = "/api/v1/stores/demo/appointments"
# 10:00 tomorrow in Shanghai (the `clock` fixture stands at 09:00 today); 10:15 is the next slot.
SLOT_10, SLOT_1015 = "2026-11-27T02:00:00Z", "2026-11-27T02:15:00Z"


def assert_error(response: Any, status: int, error: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    assert body["error"] and body["message"], body
    if error is not None:
        assert body["error"] == error, body
    return body


def booking(start: str = SLOT_10, name: str = "王小明", phone: str = "13912345678") -> str:
    body = {"service": "C", "start": start, "name": name, "phone": phone, "consent": True}
    return json.dumps(body, ensure_ascii=False)


class TestHugeIntegers:
    @pytest.mark.parametrize(
        "counter",
        [
            str(BEYOND_64_BITS),
            str(-BEYOND_64_BITS),
            "2147483648",  # one beyond a 32-bit column
            f'"{BEYOND_64_BITS}"',  # a numeric string is coerced to an int: bounded too
            "1e20",
            "9" * 5000,  # longer than Python converts by default
        ],
    )
    def test_a_huge_counter_in_a_body_is_refused_by_name(self, api: Api, counter: str) -> None:
        ticket = api.issue("A")
        assert api.sign_in(1).status_code == 200
        response = api.client.post(
            f"/api/v1/tickets/{ticket['id']}/call",
            data=f'{{"counter": {counter}}}',
            content_type="application/json",
            headers=api.headers,
        )
        body = assert_error(response, 400, "out_of_range")
        assert body["fields"] == ["counter"] and "counter" in body["message"]
        assert api.client.get(f"/api/v1/tickets/{ticket['token']}").json["status"] == "waiting"

    def test_a_huge_number_anywhere_in_a_body_is_named(self, client: FlaskClient) -> None:
        response = client.post(
            TICKETS,
            data=json.dumps({"service": "A", "extra": {"deep": [1, 2**70]}}),
            content_type="application/json",
            headers=kiosk_headers(client.application),
        )
        assert assert_error(response, 400, "out_of_range")["fields"] == ["extra.deep.1"]

    @pytest.mark.parametrize(
        "number", ["99999999999999999999999", str(BEYOND_64_BITS), "2147483648"]
    )
    def test_a_huge_id_in_a_path_is_not_found(self, api: Api, number: str) -> None:
        for path in (
            f"/api/v1/tickets/{number}/start",
            f"/api/v1/tickets/{number}/complete",
            f"/api/v1/stores/demo/counters/{number}/call-next",
        ):
            assert_error(api.client.post(path, headers=api.headers), 404, "not_found")
        counter = api.client.get(f"/api/v1/stores/demo/counters/{number}", headers=api.headers)
        assert_error(counter, 404, "not_found")

    def test_every_integer_path_parameter_is_bounded(self, api: Api) -> None:
        from backend.api import load_routes, registry

        load_routes()
        checked = 0
        for op in registry.operations:
            if not any(conv == "int" for conv, _name in op.params):
                continue
            path = op.path
            for conv, name in op.params:
                path = path.replace(f"{{{name}}}", str(10**25) if conv == "int" else "demo")
            response = api.client.open(path, method=op.method.upper(), headers=api.headers)
            assert_error(response, 404)
            checked += 1
        assert checked >= 5


class TestNulCharacters:
    def test_nul_in_a_body_string_is_refused_by_name(self, client: FlaskClient) -> None:
        response = client.post(
            TICKETS,
            data='{"service": "A\\u0000"}',
            content_type="application/json",
            headers=kiosk_headers(client.application),
        )
        assert assert_error(response, 400, "bad_text")["fields"] == ["service"]

    def test_nul_in_a_name_is_refused(self, client: FlaskClient) -> None:
        response = client.post(
            BOOK, data=booking(name="王\x00小明"), content_type="application/json"
        )
        assert assert_error(response, 400, "bad_text")["fields"] == ["name"]

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/stores/demo/slots?service=C%00&date=2026-11-27",
            "/api/v1/stores/demo/slots?service=C&date=2026-11-27&x%00=1",
            "/api/v1/tickets/abc%00def",
            "/api/v1/bookings/abc%00def",
        ],
    )
    def test_nul_in_a_query_or_path_is_refused(self, client: FlaskClient, path: str) -> None:
        assert_error(client.get(path), 400, "bad_text")

    def test_nul_in_a_form_is_refused(self, app: Flask, client: FlaskClient) -> None:
        from .test_api_tickets import extract_csrf

        csrf = extract_csrf(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"username": "desk\x00", "password": "x", "csrf_token": csrf}
        )
        assert response.status_code == 400
        assert "不允许的字符" in response.get_data(as_text=True)


class TestBodies:
    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_an_oversized_body_is_413_in_json_in_the_callers_language(
        self, app: Flask, client: FlaskClient, lang: str
    ) -> None:
        big = json.dumps({"service": "A", "note": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
        response = client.post(
            f"{TICKETS}?lang={lang}",
            data=big,
            content_type="application/json",
            headers=kiosk_headers(app),
        )
        body = assert_error(response, 413)
        expected = {"zh": "请求内容过大。", "en": "The request is too large."}[lang]
        assert body["message"] == expected

    def test_the_body_limit_is_a_setting_of_64_kib(self, app: Flask) -> None:
        assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024

    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", None],
    )
    def test_json_under_any_content_type_is_accepted(
        self, client: FlaskClient, content_type: str | None
    ) -> None:
        headers = kiosk_headers(client.application)
        if content_type:
            headers["Content-Type"] = content_type
        response = client.post(TICKETS, data='{"service": "A"}', headers=headers)
        assert response.status_code == 201, response.json
        assert response.json["label"] == "A001"

    @pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
    @pytest.mark.parametrize(
        "body", ["service=A", "{not json", "[[[[[[[[" * 4000, b"\xff\xfe{}", "NaN"]
    )
    def test_a_body_that_is_not_json_is_bad_json(
        self, client: FlaskClient, content_type: str, body: str | bytes
    ) -> None:
        response = client.post(
            TICKETS,
            data=body,
            content_type=content_type,
            headers=kiosk_headers(client.application),
        )
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.json["error"] in ("bad_json", "out_of_range")  # NaN: JSON to Python only

    @pytest.mark.parametrize("data", ["null", "[]", '["A"]', "42", '"A"', "true"])
    @pytest.mark.parametrize(
        ("lang", "message"),
        [
            ("zh", "请求内容必须是 JSON 对象（各字段写在花括号内）。"),
            ("en", "The request body must be a JSON object (its fields between braces)."),
        ],
        ids=["zh", "en"],
    )
    def test_json_that_is_not_an_object_is_told_so(
        self, client: FlaskClient, data: str, lang: str, message: str
    ) -> None:
        response = client.post(
            f"{TICKETS}?lang={lang}",
            data=data,
            content_type="application/json",
            headers=kiosk_headers(client.application),
        )
        body = assert_error(response, 400, "bad_input")
        assert body["message"] == message and body["fields"] == ["body"]

    @pytest.mark.parametrize("start", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
    def test_a_date_beyond_any_calendar_is_refused(self, client: FlaskClient, start: str) -> None:
        response = client.post(BOOK, data=booking(start=start), content_type="application/json")
        assert assert_error(response, 400, "out_of_range")["fields"] == ["start"]


class TestMethods:
    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("PUT", TICKETS, {"POST", "OPTIONS"}),
            ("DELETE", "/api/v1/stores/demo/snapshot", {"GET", "HEAD", "OPTIONS"}),
            ("TRACE", "/api/v1/tickets/1/start", {"POST", "OPTIONS"}),
        ],
    )
    def test_a_method_the_route_lacks_is_405_with_allow_in_json(
        self, client: FlaskClient, method: str, path: str, allowed: set[str]
    ) -> None:
        response = client.open(path, method=method, headers={"Accept-Language": "en"})
        body = assert_error(response, 405, "method_not_allowed")
        assert body["message"] == "This method is not allowed here."
        assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


class TestCustomerText:
    def test_a_full_width_number_is_the_same_phone(self, client: FlaskClient) -> None:
        first = client.post(
            BOOK, data=booking(phone="13800138000"), content_type="application/json"
        )
        assert first.status_code == 201, first.json
        again = client.post(
            BOOK,
            data=booking(start=SLOT_1015, phone="１３８００１３８０００"),
            content_type="application/json",
        )
        assert_error(again, 409, "already_booked")

    @pytest.mark.parametrize(
        "phone", ["１３８００１３８０００", "138－0013－8000", "\u200b13800138000"]
    )
    def test_a_full_width_number_is_accepted_as_its_digits(
        self, client: FlaskClient, phone: str
    ) -> None:
        response = client.post(BOOK, data=booking(phone=phone), content_type="application/json")
        assert response.status_code == 201, response.json
        assert response.json["phone_masked"] == "138****8000"

    @pytest.mark.parametrize(
        "name",
        ["\u200b", "\u200b\u200c\u200d", "\u2060\ufeff", "\u200b \u3000\u200b", " \t\u3000"],
    )
    def test_a_name_of_invisible_characters_is_refused(
        self, client: FlaskClient, name: str
    ) -> None:
        response = client.post(BOOK, data=booking(name=name), content_type="application/json")
        assert_error(response, 400, "bad_name")

    def test_invisible_characters_around_a_name_are_dropped(self, client: FlaskClient) -> None:
        response = client.post(
            BOOK, data=booking(name="\u200b王小明\ufeff"), content_type="application/json"
        )
        assert response.status_code == 201, response.json
        assert response.json["name_masked"] == "王**"
