"""The simulator and the live engine make the identical sequence of calls.

A scripted morning (arrivals, services, durations equal to each service's expected time) runs in
the simulator with the demo store's own policy and counters. Its log (issue, call, complete, each
at a minute) is then replayed against the live engine through the HTTP API with the injected
clock: every call-next must return exactly the ticket the simulator's call picked.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Store
from backend.policy import Ordering, sim
from backend.stores.seed import DEMO_COUNTERS, DEMO_SERVICES
from backend.stores.settings import StoreSettings

from .conftest import MORNING, kiosk_headers, make_user, token_for

# (minute after opening, service): a busy hour with every lane, bursts and quiet spells.
SCRIPT = [
    (0, "A"), (0, "C"), (1, "A"), (1, "B"), (2, "V"), (2, "C"), (3, "A"), (4, "D"), (4, "A"),
    (5, "E"), (6, "B"), (6, "A"), (7, "C"), (8, "V"), (9, "A"), (10, "A"), (10, "D"), (12, "B"),
    (13, "A"), (15, "C"), (16, "A"), (18, "E"), (20, "A"), (21, "B"), (22, "C"), (24, "A"),
    (25, "V"), (27, "D"), (30, "A"), (31, "A"), (33, "C"), (36, "B"), (38, "A"), (41, "E"),
    (44, "A"), (47, "C"), (50, "A"), (52, "B"), (55, "D"), (58, "A"),
]  # fmt: skip


def scenario(app: Flask, ordering: str = "score") -> tuple[sim.Scenario, sim.PolicySetup]:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        store.ordering = ordering
        db.session.commit()
        policy = StoreSettings.of(store).policy()
    data = {
        "name": "scripted morning",
        "hours": {"open": "09:00", "close": "18:00"},
        "counters": [
            {"number": n, "lanes": [lane.value for lane in lanes]} for n, lanes in DEMO_COUNTERS
        ],
        "services": [
            {"code": s.code, "lane": s.lane.value, "share": 1, "mean": s.minutes, "cv": 0}
            for s in DEMO_SERVICES
        ],
        "arrivals": {"09:00": 1},
    }
    built = sim.scenario_from_dict(data)
    built = sim.replace(built, policy=policy)
    return built, sim.policy_setups(built)["ours"]


def scripted_customers() -> list[sim.Customer]:
    minutes = {s.code: s.minutes for s in DEMO_SERVICES}
    return [
        sim.Customer(n + 1, float(t), code, minutes[code], float("inf"))
        for n, (t, code) in enumerate(SCRIPT)
    ]


def calls(log: list[tuple[str, float, int, int]]) -> list[tuple[float, int, int]]:
    return [(minute, counter, ticket) for kind, minute, counter, ticket in log if kind == "call"]


def test_the_deadline_order_changes_the_scripted_morning(app: Flask) -> None:
    """The morning is busy enough for the deadline order to call differently from the score
    (else the next test would prove nothing about it): someone it would have made late."""
    built, _ = scenario(app)
    deadline = sim.replace(built, policy=sim.replace(built.policy, ordering=Ordering.DEADLINE))
    by_score = sim.simulate(built, sim.policy_setups(built)["ours"], scripted_customers()).log
    setup = sim.policy_setups(deadline)["ours"]
    by_deadline = sim.simulate(deadline, setup, scripted_customers()).log
    assert calls(by_score) != calls(by_deadline)


@pytest.mark.parametrize("ordering", ["score", "deadline"])
def test_the_live_engine_calls_exactly_as_the_simulator(
    app: Flask, client: FlaskClient, clock: ManualClock, ordering: str
) -> None:
    built, setup = scenario(app, ordering)
    customers = scripted_customers()
    log = sim.simulate(built, setup, customers).log
    assert sum(1 for kind, *_ in log if kind == "call") == len(SCRIPT)  # everyone was served

    clerks = {}
    for number, _ in DEMO_COUNTERS:
        make_user(app, f"desk{number}", "demo")
        clerks[number] = {"Authorization": f"Bearer {token_for(app, f'desk{number}')}"}
        signed = client.post(
            f"/api/v1/stores/demo/counters/{number}/sign-in", json={}, headers=clerks[number]
        )
        assert signed.status_code == 200

    live_calls, sim_calls = [], []
    for kind, minute, counter, ticket_id in log:
        clock.set(MORNING + timedelta(minutes=minute))
        if kind == "issue":
            service = customers[ticket_id - 1].service
            # VIP is issued by staff (a greeter); everyone else takes a number at the kiosk.
            by_staff = {"channel": "staff"} if service == "V" else {}
            headers = clerks[4] if by_staff else kiosk_headers(app)
            response = client.post(
                "/api/v1/stores/demo/tickets",
                json={"service": service, **by_staff},
                headers=headers,
            )
            assert response.status_code == 201 and response.json["id"] == ticket_id
        elif kind == "call":
            response = client.post(
                f"/api/v1/stores/demo/counters/{counter}/call-next", headers=clerks[counter]
            )
            assert response.status_code == 200, response.json
            sim_calls.append((minute, counter, ticket_id))
            live_calls.append((minute, counter, response.json["ticket"]["id"]))
        else:
            response = client.post(f"/api/v1/tickets/{ticket_id}/complete", headers=clerks[counter])
            assert response.status_code == 200, response.json
    assert live_calls == sim_calls
    assert len({ticket for _, _, ticket in live_calls}) == len(SCRIPT)
