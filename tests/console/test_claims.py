"""Claims (tab 6): what is stored of a claim first (its timeline, no payer call, nothing
audited), then, with ctrl+l, the claim looked up live at the payer simulator through the
adapter — the original system's claims search scenario — with the normalised result, X12 code
meanings, the patient's name masked until revealed, and every look-up audited (refused when
read-only)."""

from __future__ import annotations

import dataclasses
import socket
from datetime import date, timedelta
from decimal import Decimal

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import actions as console_actions
from console.app.claims_view import ClaimsView
from console.app.help import HelpScreen
from engine.audit import AuditQuery, audit_page
from engine.claim_lookup import ClaimLookup, check_request
from engine.db import Database
from engine.payer.client import PayerSettings
from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.results import ClaimResult
from tests.console.conftest import READ_ONLY, AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.data import NOW, seed_followup
from tests.console.payer_sim import simulator_fixtures
from tests.console.screens import shown

TODAY = NOW.date()


dataset, simulator, payer = simulator_fixtures(seed=53, today=TODAY)


def finalized_claim(dataset: Dataset) -> str:
    """A paid (F1) claim of this year, like the original scenario's FG53171076."""
    tin = dataset.tins[0]
    for number in dataset.claim_numbers(tin):
        latest = dataset.latest(number)
        if latest.status.cat_507 == "F1" and latest.first_service.year == TODAY.year and \
                len(dataset.occurrences(number)) == 1:
            return number
    raise AssertionError("no paid claim in the data set")


async def open_claims(pilot: Pilot) -> ClaimsView:
    """The Claims tab, the focus in the claim number field (`i`)."""
    await pilot.press("6")
    view = pilot.app.main.query_one(ClaimsView)
    await pilot.pause()
    await pilot.press("i")
    await pilot.pause()
    return view


def fill(view: ClaimsView, **values: str) -> None:
    for name, value in values.items():
        view.query_one(f"#claims-{name}", Input).value = value


async def test_the_original_claims_search_scenario(
    make_app: AppFactory, sqlite_db: Database, dataset: Dataset, payer: PayerSettings
) -> None:
    number = finalized_claim(dataset)
    occurrence = dataset.latest(number)
    truth = dataset.expected_result(number)
    app = make_app(payer=payer)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_claims(pilot)
        assert app.focused is view.query_one("#claims-number", Input)
        await pilot.press(*number)
        fill(view, start=f"{TODAY.year}-01-01", end=f"{TODAY.year}-12-31", tin=dataset.tins[0])
        await pilot.press("ctrl+l")
        await on_screen(pilot, "matched    window — found in the date range searched", timeout=15)
        assert view.lookup is not None
        assert view.lookup.result.comparable() == truth.comparable()
        for expected in (
            f"{number}  ✓ Finalized (finalized)",
            "F1  Finalized/Payment — the claim/line has been paid",
            "65  Claim/line has been paid",
            f"charged {truth.total_charged:,.2f} · allowed {truth.allowed_amount:,.2f} · paid {truth.total_paid:,.2f}",
            f"service {occurrence.first_service:%Y-%m-%d}",  # ISO, as everywhere
            f"processed {occurrence.processed:%Y-%m-%d}",
            f"check/EFT  {occurrence.check_number}",
            f"{TODAY.year}-01-01 … {TODAY.year}-12-31 (searched up to today, {TODAY.isoformat()})",
        ):
            assert expected in screen_text(app), expected
        first, last = occurrence.member.first_name, occurrence.member.last_name
        text = screen_text(app)
        assert f"{first[0]}••• {last[0]}•••" in text and first not in text
        await pilot.press("ctrl+r")
        await on_screen(pilot, f"{first} {last}")
        await pilot.press("ctrl+r")  # hides again, without asking
        await on_screen(pilot, f"{first[0]}••• {last[0]}•••")
    audit = [(a.action, a.target, a.outcome) for a in reversed(audit_page(sqlite_db))]
    assert audit == [("claim.lookup", f"claim {number}", "ok"), ("reveal", f"claim {number}", "ok")]
    detail = audit_page(sqlite_db, AuditQuery(action="claim.lookup"))[0].detail
    assert detail.startswith("Finalized (F1/65) matched by window;") and first not in detail


async def test_without_dates_a_claim_number_inquiry_and_not_found(
    make_app: AppFactory, sqlite_db: Database, dataset: Dataset, payer: PayerSettings
) -> None:
    number = dataset.claim_numbers(dataset.tins[0])[10]
    app = make_app(payer=payer, payer_tin=dataset.tins[0])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_claims(pilot)
        assert view.query_one("#claims-tin", Input).value == dataset.tins[0]  # the configured TIN
        fill(view, number=number)
        await pilot.press("ctrl+l")
        await on_screen(pilot, "claim_lookup — found by claim-number inquiry", timeout=15)
        assert "no dates: claim-number inquiry" in screen_text(app)
        assert view.lookup.payer_calls == 1
        fill(view, number="ZZ00000001")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "ZZ00000001  ? Not Found (not_found)", timeout=15)
        await on_screen(pilot, "reason     Claim not found at the payer")
        await pilot.press("ctrl+r")
        await notified(pilot, "no patient name to reveal")
    assert [a.outcome for a in audit_page(sqlite_db, AuditQuery(action="claim.lookup"))] == ["ok", "ok"]


async def test_form_errors_are_shown_in_the_form_and_not_audited(
    make_app: AppFactory, sqlite_db: Database, payer: PayerSettings
) -> None:
    app = make_app(payer=payer)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_claims(pilot)
        await pilot.press("ctrl+l")
        await on_screen(pilot, "claim number: type the claim number to look up")
        fill(view, number="FG53171076", start="2025-13-01")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "dates: '2025-13-01' is not a real date")
        fill(view, start="2025-09-01", end="2025-08-01", tin="123456789")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "the start date 2025-09-01 is after the end date 2025-08-01")
        fill(view, start="", end="", tin="12345")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "TIN: 9 digits")
        fill(view, number="[@click=app.quit]x[/]", tin="123456789")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "claim number: letters and digits only")
        assert app.is_running
    assert audit_page(sqlite_db) == []


async def test_a_payer_that_refuses_our_credentials_is_said_and_audited(
    make_app: AppFactory, sqlite_db: Database, payer: PayerSettings
) -> None:
    app = make_app(payer=dataclasses.replace(payer, client_secret="wrong"))
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_claims(pilot)
        fill(view, number="FG53171076", tin="123456789")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "payer rejected the client credentials", timeout=15)
    assert [(a.action, a.outcome) for a in audit_page(sqlite_db)] == [("claim.lookup", "failed")]


async def test_read_only_look_ups_are_refused_and_audited(make_app: AppFactory, sqlite_db: Database,
                                                          payer: PayerSettings) -> None:
    app = make_app(operator=READ_ONLY, payer=payer)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_claims(pilot)
        await on_screen(pilot, "read-only: payer look-ups are refused")
        fill(view, number="FG53171076", tin="123456789", start=(TODAY - timedelta(days=30)).isoformat())
        await pilot.press("ctrl+l")
        await notified(pilot, "claim.lookup refused: this session is read-only")
        assert view.lookup is None
    assert [(a.user, a.action, a.target, a.outcome) for a in audit_page(sqlite_db)] == [
        ("bob", "claim.lookup", "claim FG53171076", "refused")]


async def test_with_no_payer_configured_the_sandbox_starts_on_the_first_look_up_and_stops_on_exit(
    make_app: AppFactory, sqlite_db: Database, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import sandbox  # the console imports it on the first look-up

    started: list[PayerSimulator] = []

    def start_sandbox() -> PayerSimulator:  # the built-in sandbox, with this test's data set
        started.append(PayerSimulator(SimConfig(seed=53, today=TODAY), dataset=dataset).start())
        return started[-1]

    monkeypatch.setattr(sandbox, "start_sandbox", start_sandbox)
    monkeypatch.setattr(sandbox, "sandbox_tin", lambda: dataset.tins[0])
    number = dataset.claim_numbers(dataset.tins[0])[-1]
    app = make_app(payer_tin="")
    assert app.ctx.settings.sandbox
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_claims(pilot)
        await on_screen(pilot, "built-in sandbox payer (no payer configured)")
        assert started == []  # nothing runs until a claim is looked up
        for claim in (number, "ZZ00000002"):
            fill(view, number=claim)  # no TIN typed: the sandbox's TIN, as a job would use
            await pilot.press("ctrl+l")
            await on_screen(pilot, f"TIN {dataset.tins[0]}", timeout=15)
            await on_screen(pilot, claim)
        assert len(started) == 1 and app.payer.started_sandbox
    assert not app.payer.started_sandbox  # stopped when the console exits
    with pytest.raises(OSError):
        socket.create_connection(started[0]._server.server_address[:2], timeout=1).close()


def fake_lookup(payer: object, claim_number: str, *, cancel: object = None, window_limit: object = None,
                **kwargs: object) -> ClaimLookup:
    """A found claim, at once, without a payer."""
    request = check_request(claim_number, **kwargs)  # type: ignore[arg-type]
    result = ClaimResult(
        status="Finalized", status_class="finalized", success=True, patient_first_name="SKYLER",
        patient_last_name="SMITH", total_charged=Decimal("1500.00"), total_paid=Decimal("1200.00"),
        processed_date=date(2025, 5, 19), status_category="F1", status_code="65",
        first_service_date=date(2025, 5, 1), last_service_date=date(2025, 5, 2), matched_by="window",
    )
    return ClaimLookup(request, result, payer_calls=1, seconds=0.1)


async def test_the_tab_opens_out_of_the_form_and_an_error_clears_the_old_result(
    make_app: AppFactory, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_actions, "lookup_claim", fake_lookup)
    app = make_app(payer_url="https://payer.example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        view = app.main.query_one(ClaimsView)
        await wait_for(pilot, lambda: app.focused is view.query_one("#claims-result-box"), what="out of the form")
        await pilot.press("question_mark")  # the console's keys work: help, tabs
        await shown(pilot, HelpScreen)
        await pilot.press("escape")
        await pilot.press("7")
        await on_screen(pilot, "no action audited yet")
        await pilot.press("6")
        for key in ("slash", "i", "enter"):  # each goes into the form; esc leaves it
            await pilot.press(key)
            assert app.focused is view.query_one("#claims-number", Input), key
            await pilot.press("escape")
            assert app.focused is view.query_one("#claims-result-box"), key
        await pilot.press("i", *"FG53171076")
        fill(view, start="2025-01-01", end="2025-06-30", tin="123456789")
        await pilot.press("ctrl+l")  # ask the payer now
        await wait_for(pilot, lambda: view.lookup is not None, what="the result")
        text = screen_text(app)
        assert "service 2025-05-01–2025-05-02 · processed 2025-05-19" in text  # ISO, as everywhere
        fill(view, start="2025-13-01")
        await pilot.press("ctrl+l")
        await on_screen(pilot, "dates: '2025-13-01' is not a real date")
        assert view.lookup is None
        text = screen_text(app)
        assert "No result." in text and "Finalized" not in text and "2025-05-19" not in text
async def test_a_stored_claim_is_found_without_asking_the_payer_then_asked_on_purpose(
    make_app: AppFactory, sqlite_db: Database, simulator: PayerSimulator, payer: PayerSettings
) -> None:
    jobs = seed_followup(sqlite_db)
    simulator.reset_stats()
    app = make_app(payer=payer)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_claims(pilot)
        fill(view, number="FP20000002", tin="")
        await pilot.press("enter")
        await on_screen(pilot, "stored: 2 observations · no payer call · ctrl+l asks the payer now (audited)")
        text = screen_text(app)
        assert "FP20000002  ✓ closed · TIN 123456789 · payer 87726" in text
        assert f"job {jobs['monday']}" in text and "changed P1 → F1 paid $812.40" in text
        assert "check EFT7781" in text
        fill(view, number="ZZ99999999")
        await pilot.press("enter")
        await on_screen(pilot, "ZZ99999999 is not stored: no job has seen it")
        assert simulator.snapshot().requests == {} and audit_page(sqlite_db) == []  # no call, nothing audited
        fill(view, number="FP20000002", tin="123456789")
        await pilot.press("enter")
        await on_screen(pilot, "stored: 2 observations")
        await pilot.press("ctrl+l")  # now the payer, on purpose
        await on_screen(pilot, "The payer now", timeout=15)
        await on_screen(pilot, "FP20000002  ? Not Found (not_found)")
        assert "changed P1 → F1 paid $812.40" in screen_text(app)  # the stored timeline stays below
        assert simulator.snapshot().data_requests == 1
    assert [(a.action, a.target, a.outcome) for a in audit_page(sqlite_db)] == [
        ("claim.lookup", "claim FP20000002", "ok")]
