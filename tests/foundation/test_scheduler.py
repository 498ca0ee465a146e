"""Jobs run once across processes: only the holder of the leader lease runs them."""
from __future__ import annotations

import datetime as dt

from gateway import scheduler
from storage.db import utcnow
from storage.models import Lease


def test_only_one_process_is_leader_until_its_lease_lapses(make_app):
    first, second = make_app(), make_app()
    assert first.extensions["gateway.process_id"] != second.extensions["gateway.process_id"]
    assert scheduler.is_leader(first)
    assert not scheduler.is_leader(second)
    assert scheduler.is_leader(first)  # renews
    with first.app_context():
        Lease.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    assert scheduler.is_leader(second)
    assert not scheduler.is_leader(first)


def test_a_follower_skips_jobs_and_the_leader_runs_them(make_app):  # jobs are the app's, named in create_app
    calls = []
    leader, follower = make_app(), make_app()
    for app in (leader, follower):
        app.extensions["gateway.jobs"]["test.count"] = scheduler.Job("test.count", calls.append, "interval")
    scheduler._leader_only(leader, "test.count")
    scheduler._leader_only(follower, "test.count")
    scheduler._leader_only(leader, "test.count")
    assert calls == [leader, leader]


def test_the_scheduler_starts_with_every_registered_job_and_stops(make_app):
    app = make_app(scheduler={"enabled": True})
    started = scheduler.start_scheduler(app)
    try:
        assert started.running
        assert {job.id for job in started.get_jobs()} == set(app.extensions["gateway.jobs"])
        assert "retention.purge" in app.extensions["gateway.jobs"]
        assert app.test_client().get("/healthz").get_json()["scheduler"] == "running"
    finally:
        scheduler.stop_scheduler(app)
    assert not started.running
