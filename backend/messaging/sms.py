"""SMS providers: `log` (the default: logs what would be sent, the number masked) and Alibaba
Cloud SMS (Dysmsapi `SendSms` over its RPC API, signature version 1.0, HMAC-SHA1).

Configured by environment: `SMS_PROVIDER` (log | aliyun), `SMS_ACCESS_KEY_ID`,
`SMS_ACCESS_KEY_SECRET`, `SMS_SIGN_NAME`, `SMS_TEMPLATE_CONFIRMATION`, `SMS_TEMPLATE_REMINDER`,
`SMS_TEMPLATE_ALMOST` ("almost your turn", for remote joiners who left a number),
`SMS_TEMPLATE_CASE_OPENED`, `SMS_TEMPLATE_CASE_PROMISE`, `SMS_TEMPLATE_CASE_RESOLVED` (a complaint
case's number and promised date, a new date, its resolution),
`SMS_ENDPOINT` (default https://dysmsapi.aliyuncs.com/).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from backend.core.privacy import mask_phone

log = logging.getLogger("hallqueue.sms")
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
TIMEOUT_S = 10


class SmsError(Exception):
    """The provider did not accept the message (the text says why, no phone number in it)."""


@dataclass(frozen=True)
class Sms:
    phone: str
    kind: str  # the template: confirmation | reminder
    params: Mapping[str, str]  # the template's variables
    text: str  # the whole message in the customer's language (what `log` shows)


class SmsProvider(Protocol):
    def send(self, sms: Sms) -> None: ...


class LogProvider:
    def send(self, sms: Sms) -> None:
        log.info("SMS to %s (%s): %s", mask_phone(sms.phone), sms.kind, sms.text)


def percent_encode(value: str) -> str:
    """Alibaba's POP encoding: RFC 3986 (space %20, `~` kept, `*` encoded)."""
    return quote(value, safe="~")


def aliyun_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunProvider:
    def __init__(
        self,
        key_id: str,
        secret: str,
        sign_name: str,
        templates: Mapping[str, str],
        endpoint: str = ALIYUN_ENDPOINT,
    ) -> None:
        self.key_id, self.secret, self.sign_name = key_id, secret, sign_name
        self.templates, self.endpoint = dict(templates), endpoint

    def request_params(
        self, sms: Sms, timestamp: datetime | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        moment = timestamp or datetime.now(UTC)
        params = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": sms.phone,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or str(uuid.uuid4()),
            "SignatureVersion": "1.0",
            "TemplateCode": self.templates.get(sms.kind) or "",
            "TemplateParam": json.dumps(dict(sms.params), ensure_ascii=False),
            "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.secret)
        return params

    def send(self, sms: Sms) -> None:
        if not self.templates.get(sms.kind):
            raise SmsError(f"no SMS template configured for {sms.kind}")
        url = f"{self.endpoint}?{urlencode(self.request_params(sms), quote_via=quote)}"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (OSError, ValueError) as exc:
            raise SmsError(f"provider unreachable: {type(exc).__name__}") from None
        try:
            body: Any = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        code = body.get("Code") if isinstance(body, dict) else None
        if status != 200 or code != "OK":
            message = body.get("Message", "") if isinstance(body, dict) else ""
            raise SmsError(f"HTTP {status} {code or ''} {message}".strip()[:400])


def sms_enabled(config: Mapping[str, Any]) -> bool:
    """Messages really leave by SMS (the `log` provider only writes them to the log, so no page
    may promise an SMS then)."""
    return (config.get("SMS_PROVIDER") or "log").lower() != "log"


def provider_from_config(config: Mapping[str, Any]) -> SmsProvider:
    name = (config.get("SMS_PROVIDER") or "log").lower()
    if name == "log":
        return LogProvider()
    if name == "aliyun":
        return AliyunProvider(
            config["SMS_ACCESS_KEY_ID"],
            config["SMS_ACCESS_KEY_SECRET"],
            config["SMS_SIGN_NAME"],
            {
                "confirmation": config["SMS_TEMPLATE_CONFIRMATION"],
                "reminder": config["SMS_TEMPLATE_REMINDER"],
                "almost": config.get("SMS_TEMPLATE_ALMOST") or "",
                "case_opened": config.get("SMS_TEMPLATE_CASE_OPENED") or "",
                "case_promise": config.get("SMS_TEMPLATE_CASE_PROMISE") or "",
                "case_resolved": config.get("SMS_TEMPLATE_CASE_RESOLVED") or "",
            },
            config.get("SMS_ENDPOINT") or ALIYUN_ENDPOINT,
        )
    raise RuntimeError(f"SMS_PROVIDER must be log or aliyun, not {name!r}")
