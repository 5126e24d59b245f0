"""The Fleet view: every service on one screen, sorted, filtered, and opened with Enter."""

from __future__ import annotations

import time

from infra.fleet import seed_fleet
from tui_support import ACTOR, SIZE, screen_text, wait_until

from dflow_tui.demo.sandbox import DEMO_SERVICE
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.screens.fleet import FleetScreen


def make_app(demo, dflow) -> DflowApp:
    """The app without its worker loop: the fleet's seeded servers are not real hosts."""
    return DflowApp(demo.settings, dflow=dflow, actor=ACTOR, scheduler=False)


def shown(app) -> list[str]:
    return [row.key for row in app.screen.table.rows]


def cells(app, path: str) -> list[str]:
    [row] = [row for row in app.screen.table.rows if row.key == path]
    return [text.plain for text in row.texts]


async def open_fleet(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.services is not None, "the services to load")
    await pilot.press("f")
    await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.loaded, "the fleet")


async def test_every_service_is_listed_with_its_schedule_and_last_backup(demo, dflow, clock):
    backup = await dflow.backups.create(DEMO_SERVICE)
    await dflow.schedules.set(DEMO_SERVICE, ["hourly", "weekly"])  # queues its backups (no worker runs)
    await seed_fleet(dflow.ctx.db, 30, now=clock.now(), due=0.1)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_fleet(pilot)
        assert len(shown(app)) == 31
        # Worst first: the late ones (2 days since a daily success), then the rest (the demo
        # service's manual backup is recent: ok), each group by path.
        states = [row.texts[1].plain for row in app.screen.table.rows]
        assert states == [*["late"] * 3, *["ok"] * 28]
        assert shown(app)[3:] == sorted(shown(app)[3:])
        state, result, last, due, tiers, proven, _size, engine, server, destination = cells(
            app, DEMO_SERVICE
        )[1:]
        assert (state, proven) == ("ok", "—")  # never drilled
        assert (engine, server, destination, tiers) == ("postgres", "this-machine", "internal", "HW")
        assert last.endswith("s ago")  # the manual backup, seconds ago on the test's clock
        assert (due, result) == ("now", "in-progress")  # its weekly waits for a worker
        assert backup.id
        row = cells(app, "fleet-0/production/db9")  # a due one: its daily success is 2 days old
        assert row[1:8] == [
            "late",
            "succeeded",
            "2d ago",
            "now",
            "D",
            "—",
            "10.0 KiB",
        ]  # 1 KiB × (9 % 97 + 1)
        assert "31 services" in screen_text(app) and "by state, ascending" in screen_text(app)


async def test_sort_by_each_column_and_back(demo, dflow, clock):
    await seed_fleet(dflow.ctx.db, 30, now=clock.now(), due=0.1)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_fleet(pilot)
        table = app.screen.table
        assert table.sort_column == 1  # by state, worst first
        for column in range(2, 8):
            await pilot.press("s")
            assert table.sort_column == column and not table.sort_reverse
        await pilot.press("S")  # by size, largest first
        sizes = [row.sort_keys[7] for row in table.rows]
        assert sizes == sorted(sizes, key=lambda s: -1 if s is None else s, reverse=True)
        assert sizes[0] == 30 * 1024 and "by size, descending" in screen_text(app)
        for column in range(8, 11):
            await pilot.press("s")
            assert table.sort_column == column
        await pilot.press("s")  # round to the path
        assert table.sort_column == 0 and shown(app) == sorted(shown(app))
        header = table.region.y + 1  # inside the border
        await pilot.click(offset=(table.region.x + 2 + table._widths[0] + 2, header))  # "State"
        assert table.sort_column == 1
        await pilot.click(offset=(table.region.x + 2 + table._widths[0] + 2, header))  # again: turned round
        assert table.sort_column == 1 and table.sort_reverse


async def test_filter_by_text_then_enter_opens_the_service(demo, dflow, clock):
    await seed_fleet(dflow.ctx.db, 300, now=clock.now())
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_fleet(pilot)
        await pilot.press("slash", *"db12", "enter")
        assert shown(app) == [
            "fleet-0/production/db12",
            *(f"fleet-1/production/db{n}" for n in range(120, 130)),
        ]
        assert "11 of 301 services" in screen_text(app)
        await pilot.press("down", "enter")  # the second: db120
        await wait_until(pilot, lambda: not isinstance(app.screen, FleetScreen), "the main screen")
        await wait_until(
            pilot,
            lambda: app.service is not None and app.service.path == "fleet-1/production/db120",
            "the chosen service",
        )


async def test_escape_clears_the_filter_first_then_goes_back(demo, dflow, clock):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_fleet(pilot)
        await pilot.press("slash", *"nothing-like-this")
        assert shown(app) == []
        await pilot.press("escape")
        assert shown(app) == [DEMO_SERVICE] and isinstance(app.screen, FleetScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, FleetScreen)


async def test_ten_thousand_services_open_at_once(demo, dflow, clock):
    """Only the lines on screen are drawn: the view is there as soon as the rows are read."""
    await seed_fleet(dflow.ctx.db, 10_000, now=clock.now(), due=0.1, servers=7)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services is not None, "the services to load", 60)
        started = time.monotonic()
        await open_fleet(pilot)
        assert len(shown(app)) == 10_001
        await pilot.press("end")
        assert app.screen.table.cursor_key == shown(app)[-1]
        assert "10,001 services" in screen_text(app)
        assert time.monotonic() - started < 30  # a sanity bound; the benchmark measures it


async def test_the_service_tree_stays_usable_at_ten_thousand_services(demo, dflow, clock):
    """Projects start folded (their services are added when opened), `/` narrows the tree,
    and the palette's jump reaches into a folded project."""
    from dflow_tui.ui.widgets.service_tree import LAZY_ABOVE

    await seed_fleet(dflow.ctx.db, 10_000, now=clock.now())
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services is not None, "the services to load", 60)
        tree = app.service_tree
        assert len(app.services) > LAZY_ABOVE
        assert tree.last_line < 150  # 101 folded projects, not 10,000 lines
        await pilot.pause()
        assert tree.cursor_line == 0
        await pilot.press("enter")  # opens the first project ("demo"): its environment and service
        await wait_until(pilot, lambda: "shop-db" in screen_text(app), "the demo project's service")

        await pilot.press("slash", *"db4242")
        await wait_until(pilot, lambda: tree.last_line < 5, "the tree narrowed")
        await pilot.press("enter", "down", "down")
        await wait_until(
            pilot,
            lambda: app.service is not None and app.service.path == "fleet-42/production/db4242",
            "the filtered service",
        )
        await pilot.press("slash", "escape")
        await wait_until(pilot, lambda: tree.last_line > 100, "the whole tree back")

        app.go_to_service("fleet-77/production/db7777")  # the palette's "Go to …"
        await wait_until(
            pilot,
            lambda: app.service is not None and app.service.path == "fleet-77/production/db7777",
            "the service in a folded project",
        )


async def test_the_services_are_listed_before_their_figures_are_read(demo, dflow, clock, monkeypatch):
    """What the main screen has read already is shown at once; how each service stands
    follows (here held back until the test lets it through)."""
    import asyncio

    await seed_fleet(dflow.ctx.db, 20, now=clock.now())
    release = asyncio.Event()
    rows = dflow.fleet.rows

    async def held_rows(**kwargs):
        await release.wait()
        return await rows(**kwargs)

    monkeypatch.setattr(dflow.fleet, "rows", held_rows)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services is not None, "the services to load")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.count, "the list")
        assert len(shown(app)) == 21 and not app.screen.loaded
        assert cells(app, DEMO_SERVICE)[1:7] == ["…"] * 6
        assert "reading how each stands" in screen_text(app)
        release.set()
        await wait_until(pilot, lambda: app.screen.loaded, "the figures")
        assert cells(app, DEMO_SERVICE)[1:3] == ["off", "—"]  # no schedule, no backup yet
        assert "reading how each stands" not in screen_text(app)


async def test_it_opens_on_the_apps_last_health_read_and_reads_again(demo, dflow, clock, monkeypatch):
    """How each service stood at the app's last health read is on screen at once, figures
    and all; the figures read again then replace it."""
    import asyncio

    await seed_fleet(dflow.ctx.db, 20, now=clock.now(), due=0.1)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.fleet_rows is not None, "the app's health read")
        release = asyncio.Event()
        rows = dflow.fleet.rows

        async def held_rows(**kwargs):
            await release.wait()
            return await rows(**kwargs)

        monkeypatch.setattr(dflow.fleet, "rows", held_rows)  # every read waits, the app's too
        await dflow.backups.create(DEMO_SERVICE)  # after that read: shown once read again
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.count, "the view")
        assert len(shown(app)) == 21 and not app.screen.loaded
        assert cells(app, "fleet-0/production/db9")[1:3] == ["late", "succeeded"]  # figures at once
        assert cells(app, DEMO_SERVICE)[1:3] == ["off", "—"]  # as it stood: no backup yet
        assert "reading again" in screen_text(app)
        release.set()
        await wait_until(pilot, lambda: app.screen.loaded, "the figures read again")
        await wait_until(pilot, lambda: cells(app, DEMO_SERVICE)[2] == "succeeded", "the new backup")
        assert "reading again" not in screen_text(app)


def tree_label(app, path: str) -> str:
    for node in app.service_tree.root.children:
        for environment in node.children:
            for leaf in environment.children:
                if leaf.data is not None and leaf.data.path == path:
                    return str(leaf.label)
    raise AssertionError(f"{path} is not in the tree")


async def test_the_header_counts_late_and_failing_services_and_the_tree_shows_badges(demo, dflow, clock):
    from datetime import timedelta

    await dflow.backups.create(DEMO_SERVICE)
    await dflow.schedules.set(DEMO_SERVICE, ["daily"])
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sub_title.startswith("0 late · 0 failing · "), "the header")
        assert tree_label(app, DEMO_SERVICE).startswith("shop-db ok ·")

        clock.advance(timedelta(hours=36, minutes=1))  # past its recovery point: late by time alone
        app.refresh_health()  # what the app's own timer does every HEALTH_INTERVAL
        await wait_until(pilot, lambda: app.sub_title.startswith("1 late · 0 failing · "), "late counted")
        assert tree_label(app, DEMO_SERVICE).startswith("shop-db late ·")
        assert "Database backups · alice (admin)" in app.sub_title


async def test_a_drilled_service_shows_when_it_was_proven_and_a_failed_drill(demo, dflow, clock):
    proven = await dflow.backups.create(DEMO_SERVICE)
    await dflow.backups.drill(DEMO_SERVICE, proven.id)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_fleet(pilot)
        assert cells(app, DEMO_SERVICE)[6].endswith("s ago")  # seconds ago on the test clock
    broken = await dflow.backups.create(DEMO_SERVICE)
    [dump] = [p for p in demo.root.rglob("*.dump") if p.name == broken.location.rsplit("/", 1)[-1]]
    dump.write_bytes(dump.read_bytes()[:-10])
    await dflow.backups.drill(DEMO_SERVICE, broken.id)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_fleet(pilot)
        assert cells(app, DEMO_SERVICE)[6] == "failed"
