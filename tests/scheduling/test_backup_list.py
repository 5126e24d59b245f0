"""The backup list and its revision: a live view refetches exactly when something changed."""

from __future__ import annotations

from datetime import timedelta


async def test_revision_moves_with_every_change_the_list_shows(app, service, clock):
    first = await app.backups.revision(service)
    assert await app.backups.revision(service) == first  # nothing happened

    created = await app.backups.queue(service)
    after_create = await app.backups.revision(service)
    assert after_create != first

    clock.advance(timedelta(seconds=5))
    assert await app.worker.drain() == 1
    after_run = await app.backups.revision(service)
    assert after_run != after_create

    clock.advance(timedelta(seconds=5))
    await app.backups.restore(created.id, safety_backup=False)
    after_restore = await app.backups.revision(service)
    assert after_restore != after_run

    clock.advance(timedelta(seconds=5))
    await app.backups.delete(created.id)
    assert await app.backups.revision(service) != after_restore
    assert await app.backups.list(service) == []
