"""Jobs run once across processes: only the holder of the leader lease runs them."""
from __future__ import annotations

import datetime as dt

import time_machine

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
        assert {job.id for job in started.get_jobs()} - {scheduler.CATCH_UP_JOB} == {*app.extensions["gateway.jobs"],
                                                                                      scheduler.LEASE_JOB}
        assert "retention.purge" in app.extensions["gateway.jobs"]
        assert app.test_client().get("/healthz").get_json()["scheduler"] == "running"
    finally:
        scheduler.stop_scheduler(app)
    assert not started.running


def test_a_killed_leader_is_replaced_within_seconds_and_a_live_one_never(make_app):
    """The leader renews its lease on a tick of its own, every quarter of a 10-second lease; one killed with
    kill -9 (no release) is replaced as soon as the lease lapses."""
    leader, follower = make_app(scheduler={"enabled": True}), make_app()
    assert leader.config["GATEWAY"]["scheduler"]["lease_seconds"] <= 6
    start = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        started = scheduler.start_scheduler(leader)
        try:
            renew = started.get_job(scheduler.LEASE_JOB)
            assert renew.trigger.interval.total_seconds() <= 1.5
            for _ in range(20):  # a minute of renewals: the follower never takes over from a live leader
                scheduler._renew_lease(leader)
                traveller.shift(dt.timedelta(seconds=renew.trigger.interval.total_seconds()))
                assert not scheduler.is_leader(follower)
        finally:
            started.shutdown(wait=True)  # killed: the lease is not released
        traveller.shift(dt.timedelta(seconds=6.5))
        assert scheduler.is_leader(follower)


def test_a_missed_monday_digest_runs_once_after_a_restart(make_app, caplog):
    app = make_app()
    monday_8 = dt.datetime(2026, 11, 23, 0, 0)  # Monday 08:00 in Ulaanbaatar, as naive UTC
    with time_machine.travel(monday_8 - dt.timedelta(days=6), tick=False):  # Tuesday: the service runs
        assert scheduler.missed_runs(app) == []  # first start: watching from now
    with time_machine.travel(monday_8 - dt.timedelta(hours=1), tick=False):  # Monday 07:00: the digest is not due
        assert "digests.weekly" not in scheduler.missed_runs(app)
    with time_machine.travel(monday_8 + dt.timedelta(hours=3), tick=False):  # down over 08:00, back at 11:00
        assert "digests.weekly" in scheduler.missed_runs(app)
        with caplog.at_level("INFO", logger="gateway"):
            assert "digests.weekly" in scheduler.catch_up(app)
        assert [r for r in caplog.records if r.getMessage() == "digest.sent"]
        assert scheduler.catch_up(app) == []  # once
    with time_machine.travel(monday_8 + dt.timedelta(days=1), tick=False):
        assert "digests.weekly" not in scheduler.missed_runs(app)
