"""Logs tab: live tail, follow and the new-lines marker, filters that stay set, line counts,
wrap, colour by level, and memory bounded however many rows the logs table holds."""

from __future__ import annotations

import time
from datetime import timedelta

from rich.console import Console
from rich.text import Text
from sqlalchemy import insert
from textual.pilot import Pilot

from console.app.detail_screen import RecordScreen
from console.app.log_pane import LogPane, wrap_entry
from console.app.logs_view import ALL_WINDOW, HIGHLIGHT, LogsView
from console.app.prompt import Picker
from engine.db import Database
from engine.logsink import LogFilter
from engine.models import LogRecord
from tests.console.conftest import AppFactory, on_screen, screen_text, wait_for
from tests.console.data import NOW, add_log, seed_logs
from tests.console.screens import open_with


async def open_logs(pilot: Pilot) -> LogsView:
    await pilot.press("2")
    view = pilot.app.logs_view
    await wait_for(pilot, lambda: view.poller is not None and view.poller.fetches >= 1 and not view._reload,
                   what="the first lines")
    return view


def bulk_logs(db: Database, count: int) -> None:
    rows = [
        {"at": NOW - timedelta(seconds=count - n), "service": "worker", "host": "h", "pid": 1,
         "level": 40 if n % 10 == 0 else 20, "logger": "x", "job_id": n % 7, "run_id": None,
         "message": f"bulk line {n}"}
        for n in range(count)
    ]
    with db.write() as session:
        session.execute(insert(LogRecord), rows)


async def test_new_lines_are_on_screen_within_a_second(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_logs(sqlite_db)
    app = make_app(refresh=1.0)  # the default refresh period
    async with app.run_test(size=(120, 30)) as pilot:
        await open_logs(pilot)
        await on_screen(pilot, "hostile line")
        for n in range(3):
            started = time.monotonic()
            add_log(sqlite_db, f"fresh line number {n}", level=30)
            await on_screen(pilot, f"fresh line number {n}", timeout=2.0)
            assert time.monotonic() - started < 1.0


async def test_follow_off_shows_a_new_lines_marker(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_logs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_logs(pilot)
        await pilot.press("f")
        await on_screen(pilot, "⏸ paused")
        for n in range(3):
            add_log(sqlite_db, f"while paused {n}")
        app.refresh_active()
        await on_screen(pilot, "3 new lines (f follows)")
        assert "while paused" not in screen_text(app)
        await pilot.press("f")
        await on_screen(pilot, "while paused 2")
        assert "new lines" not in screen_text(app)
        assert view.following
        # scrolling up stops following too
        bulk_logs(sqlite_db, 200)
        app.refresh_active()
        await wait_for(pilot, lambda: len(view.pane.entries) == 100 and view.pane.max_scroll_y > 0
                       and view.pane.has_focus, what="a full window, laid out and focused")
        await pilot.press("pageup")
        await wait_for(pilot, lambda: not view.following, what="follow off")


async def test_filters_stay_set_while_moving_around(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_logs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_logs(pilot)
        await open_with(pilot, "v", Picker, "the level picker")
        app.screen.query_one("OptionList").highlighted = 4  # ERROR and above
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.flt.level == 40 and not view._reload, what="the level filter")
        await on_screen(pilot, "giving up after 3 tries")
        assert {e.text.plain.split()[2] for e in view.pane.entries} == {"ERROR", "CRIT"}
        await open_with(pilot, "s", Picker, "the service picker")
        labels = [label.plain for label, _ in app.screen.choices]
        assert labels == ["all services", "console", "scheduler", "worker"]
        app.screen.query_one("OptionList").highlighted = 3
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.flt.service == "worker" and not view._reload, what="the service filter")
        await pilot.press("slash")
        await pilot.press(*"503")
        await wait_for(pilot, lambda: view.flt.text == "503" and not view._reload, what="the text filter")
        await pilot.press("enter")
        (only,) = view.pane.entries
        assert only.text.plain.endswith("worker    job 2 payer error 503 on claim FG53171099: giving up after 3 tries")
        expected = LogFilter(service="worker", level=40, text="503")
        await pilot.press("1")
        await on_screen(pilot, "Done/Total")
        await pilot.press("2")
        await on_screen(pilot, "service worker · level ≥ERROR")
        assert view.flt == expected
        assert "text '503'" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: view.flt == LogFilter() and not view._reload, what="filters cleared")
        assert len(view.pane.entries) == 12


async def test_lines_100_500_1000_all_and_memory_bounded(make_app: AppFactory, sqlite_db: Database) -> None:
    bulk_logs(sqlite_db, 3000)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_logs(pilot)
        pane = view.pane
        assert len(pane.entries) == 100 and pane.entries[-1].text.plain.endswith("bulk line 2999")
        for expected in (500, 1000):
            await pilot.press("m")
            await wait_for(pilot, lambda e=expected: len(pane.entries) == e, what=f"{expected} lines")
            await on_screen(pilot, f"lines {expected}")
        await pilot.press("m")
        await wait_for(pilot, lambda: len(pane.entries) == ALL_WINDOW, what="the 'all' window")
        await on_screen(pilot, "lines all")
        # following: new lines push the oldest out of memory
        bulk_logs(sqlite_db, 700)
        app.refresh_active()
        await wait_for(pilot, lambda: pane.entries[-1].text.plain.endswith("bulk line 699"), what="the tail")
        assert len(pane.entries) == ALL_WINDOW
        # scrolling to the top pages older lines in, dropping the newest
        first = pane.entries[0].id
        await pilot.press("home")
        await wait_for(pilot, lambda: pane.entries[0].id < first, what="older lines")
        assert len(pane.entries) == ALL_WINDOW and not view.following
        await pilot.press("m")
        await wait_for(pilot, lambda: len(pane.entries) == 100, what="back to 100")
        assert view.following and pane.entries[-1].text.plain.endswith("bulk line 699")


async def test_wrap_and_colour_by_level(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_logs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        pane = view.pane
        assert pane.line_count == len(pane.entries) == 12
        await pilot.press("w")
        await wait_for(pilot, lambda: pane.line_count > 12, what="wrapped lines")
        await on_screen(pilot, "· wrap")
        await pilot.press("w")
        await wait_for(pilot, lambda: pane.line_count == 12, what="unwrapped lines")
        styles = {}
        for entry in pane.entries:
            level = entry.text.plain.split()[2]
            styles.setdefault(level, set()).update(str(span.style) for span in entry.text.spans)
        assert "tone.error.strong" in styles["ERROR"]
        assert "tone.warn" in styles["WARN"]
        assert "tone.muted" in styles["DEBUG"]
        assert "tone.alarm" in styles["CRIT"]
        hostile = next(e for e in pane.entries if "hostile" in e.text.plain)
        assert "[@click=app.quit]quit[/] ␛]52;c;cm0gLXJmIH4=␇ ␛[2J hostile line" in hostile.text.plain


async def test_a_line_committed_after_a_newer_one_is_shown_once_on_postgresql(
    make_app: AppFactory, pg_url: str
) -> None:
    """PostgreSQL takes the id at insert and shows the row at commit: the pane must not follow
    by `id > newest id shown`, or the line committed late is skipped for good."""
    db = Database(pg_url)
    try:
        add_log(db, "before the race")
        app = make_app(db=db)
        async with app.run_test(size=(120, 30)) as pilot:
            view = await open_logs(pilot)
            await on_screen(pilot, "before the race")
            with db.engine.connect() as slow:
                slow_tx = slow.begin()
                slow.execute(insert(LogRecord), [{
                    "at": NOW, "service": "worker", "host": "h", "pid": 1, "level": 20, "logger": "x",
                    "job_id": None, "run_id": None, "message": "committed late",
                }])
                add_log(db, "committed first")  # a higher id, visible first
                fetches = view.poller.fetches
                app.refresh_active()
                await wait_for(pilot, lambda: view.poller.fetches > fetches and not view.poller.in_flight,
                               what="a fetch while the first insert is open")
                await on_screen(pilot, "committed first")
                slow_tx.commit()
            for _ in range(2):  # the line arrives once, and a further fetch does not add it again
                fetches = view.poller.fetches
                app.refresh_active()
                await wait_for(pilot, lambda f=fetches: view.poller.fetches > f and not view.poller.in_flight,
                               what="a fetch after the commit")
            messages = [e.text.plain.split(None, 4)[-1] for e in view.pane.entries]
            assert messages == ["before the race", "committed first", "committed late"]
    finally:
        db.dispose()


async def test_a_full_window_opens_on_the_newest_lines_and_renders_only_new_ones(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    bulk_logs(sqlite_db, 300)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_logs(pilot)
        pane = view.pane
        await on_screen(pilot, "bulk line 299")
        assert pane.at_end
        rendered = pane._cache.misses
        add_log(sqlite_db, "one more line")
        app.refresh_active()
        await on_screen(pilot, "one more line")
        assert len(pane.entries) == 100 and pane.at_end
        # the lines that stay on screen are not rendered again: the new one, and the row it took
        assert pane._cache.misses - rendered <= 2


def pane_lines(pane: LogPane) -> list[str]:
    """The text of the strips the pane renders, top to bottom."""
    return ["".join(seg.text for seg in pane.render_line(y)) for y in range(pane.scrollable_content_region.height)]


async def test_wrapped_lines_keep_every_character_and_indent_under_the_message(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    bulk_logs(sqlite_db, 40)  # more lines than the pane holds: the scrollbar shows
    message = ("finished: 394 payer calls in 12.3 s for 5,000 rows; " * 5).strip() + " the-end"
    add_log(sqlite_db, message, job_id=4)
    app = make_app()
    async with app.run_test(size=(100, 24)) as pilot:
        view = await open_logs(pilot)
        pane = view.pane
        await pilot.press("w")
        await wait_for(pilot, lambda: pane.line_count > 40 and pane.at_end, what="wrapped, at the end")
        await pilot.pause()
        assert pane.max_scroll_y > 0 and pane.show_vertical_scrollbar
        entry = pane.entries[-1]
        count = pane._counts[-1]
        assert count >= 3
        shown = pane_lines(pane)
        lines = [line.rstrip() for line in shown[len(shown) - count:]]
        assert lines[0].startswith("10-01 12:00:00 INFO  worker    job 4 finished: 394 payer calls")
        for line in lines[1:]:  # indented under the message
            assert line.startswith(" " * entry.indent) and not line.startswith(" " * (entry.indent + 1)), line
        assert entry.indent == len("10-01 12:00:00 INFO  worker    job 4 ")
        words = " ".join(line.strip() for line in lines).split()
        assert words == entry.text.plain.split()  # no character lost at any fold


async def test_the_job_prefix_is_not_repeated_and_filter_matches_are_highlighted(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    add_log(sqlite_db, "job 4 started", job_id=4)
    add_log(sqlite_db, "job 4: lease expired; Payer down", job_id=4)
    add_log(sqlite_db, "job 42 is another job", job_id=4)
    add_log(sqlite_db, "job 4", job_id=4)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_logs(pilot)
        await wait_for(pilot, lambda: len(view.pane.entries) == 4, what="the lines")
        tails = [e.text.plain.split("worker    ", 1)[1] for e in view.pane.entries]
        assert tails == ["job 4 started", "job 4 lease expired; Payer down", "job 4 job 42 is another job", "job 4 job 4"]
        await pilot.press("slash", *"payer")
        await wait_for(pilot, lambda: view.flt.text == "payer" and not view._reload, what="the text filter")
        (only,) = view.pane.entries
        marked = [only.text.plain[s.start:s.end] for s in only.text.spans if s.style == HIGHLIGHT]
        assert marked == ["Payer"]  # case ignored, as the filter does


async def test_the_cursor_moves_with_j_k_g_G_enter_opens_the_whole_line_and_z_maximises(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    seed_logs(sqlite_db, repeat=4)  # 48 lines
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        pane = view.pane
        await wait_for(pilot, lambda: len(pane.entries) == 48 and pane.max_scroll_y > 0 and pane.has_focus,
                       what="laid out")
        last = len(pane.entries) - 1
        await pilot.press("g")
        await wait_for(pilot, lambda: pane.cursor == 0 and pane.scroll_y == 0, what="the first line")
        assert not view.following  # moving up stops following
        await pilot.press("j", "j")
        assert pane.cursor == 2
        await pilot.press("k")
        assert pane.cursor == 1
        await pilot.press("G")
        await wait_for(pilot, lambda: pane.cursor == last and pane.at_end, what="the last line")
        await pilot.press("k")
        assert pane.cursor == last - 1
        cursor_style = pane.get_component_rich_style("log-pane--cursor")
        y = pane._span_of(last - 1)[0] - int(pane.scroll_y)
        assert any(seg.style and seg.style.bgcolor == cursor_style.bgcolor for seg in pane.render_line(y))
        await pilot.press("j")
        await open_with(pilot, "enter", RecordScreen, "the line's record")
        text = screen_text(app)
        for expected in (f"Log line {pane.entries[last].id}", "INFO (20)", "host1 pid 100", "claimsops.worker", "job 6 progress 850/2000",
                         "eighty-column terminal so that wrapping shows"):
            assert expected in " ".join(text.split()), expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main and pane.has_focus, what="back on the logs")
        # z: the lines fill the screen; z again, or esc, gives it back
        await pilot.press("z")
        await wait_for(pilot, lambda: app.screen.maximized is pane, what="maximised")
        await wait_for(pilot, lambda: pane.size.height >= 22, what="the lines fill the screen")
        assert "1 Jobs" not in screen_text(app)
        await pilot.press("z")
        await wait_for(pilot, lambda: app.screen.maximized is None, what="back")
        await pilot.press("z")
        await wait_for(pilot, lambda: app.screen.maximized is pane, what="maximised again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.maximized is None, what="restored by esc")
        await on_screen(pilot, "1 Jobs")


def test_folding_keeps_every_character_at_any_width() -> None:
    console = Console(width=200)
    text = Text("10-01 12:00:00 INFO  worker    job 4 394 payer calls; " + "abcdefghij" * 12 + " done, 5,000 rows")
    for width in range(20, 120, 7):
        lines = wrap_entry(text, width, 37, console)
        indent = 37 if width // 2 >= 37 else 2
        assert all(line.cell_len <= width for line in lines), width
        assert all(line.plain.startswith(" " * indent) for line in lines[1:]), width
        assert "".join(line.plain[indent if n else 0:] for n, line in enumerate(lines)).replace(" ", "") == \
            text.plain.replace(" ", ""), width
