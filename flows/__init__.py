"""Conversation flows: the YAML language, its validator and a pure engine. No Flask, no database, no clock.

Typical use by the gateway::

    flow_set = load_flows(paths)                 # once, at start-up
    flow = flow_set.by_keyword(first_word)
    outcome = start(flow, Context("sms", "mn", "latn", now, vars={...}))
    outcome = resume(flow, outcome.state, reply_text, ctx)
"""
from flows.catalog import AdminCatalog, AdminUnit
from flows.definition import Flow, FlowError, Issue
from flows.engine import Context, Outcome, expire, resume, start
from flows.loader import FlowSet, load_flow_text, load_flows

__all__ = [
    "AdminCatalog", "AdminUnit", "Context", "Flow", "FlowError", "FlowSet", "Issue", "Outcome",
    "expire", "load_flow_text", "load_flows", "resume", "start",
]
