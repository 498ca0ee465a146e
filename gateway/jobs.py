"""Every scheduled job, imported for registration: each module adds its jobs with `@gateway.scheduler.job`."""
from gateway import conversation_jobs, digests, meetings, outbox_jobs, retention  # noqa: F401
