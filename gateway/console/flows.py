"""Flows: each loaded flow with its validation status, warnings and message sizes (SMS segments, USSD screens),
and the web phone that plays any of them. Everyone signed in may use both: nothing here changes data."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from wtforms import StringField
from wtforms.validators import Length

from flows.checks import message_sizes
from gateway.console import phone
from gateway.console.auth import current_language, role
from gateway.console.forms import ConsoleForm

bp = Blueprint("flows", __name__, url_prefix="/flows")
PHONE_KEY = "phone"


class PhoneForm(ConsoleForm):
    text = StringField("", validators=[Length(max=phone.MAX_INPUT)])


def flow_rows() -> list[dict]:
    flowset = current_app.extensions["gateway.flows"]
    rows = []
    for flow in sorted(flowset.flows.values(), key=lambda f: f.id):
        issues = [issue for issue in flowset.issues if issue.file == flow.source]
        sizes = [m.as_dict() for m in message_sizes(flow)]
        sms = [s for s in sizes if s["channel"] == "sms"]
        rows.append({"flow": flow, "issues": issues, "sizes": sizes,
                     "max_segments": max((s["segments"] for s in sms), default=0),
                     "errors": sum(i.severity == "error" for i in issues)})
    return rows


@bp.get("/")
@role("cso")
def index():
    flowset = current_app.extensions["gateway.flows"]
    loaded = {flow.source for flow in flowset.flows.values()}
    broken = [issue for issue in flowset.errors if issue.file not in loaded]
    return render_template("console/flows.html", rows=flow_rows(), broken=broken, language=current_language())


def _state() -> dict:
    state = session.get(PHONE_KEY) or {}
    channel = state.get("channel") if state.get("channel") in ("sms", "ussd") else "sms"
    language = state.get("language") if state.get("language") in ("mn", "en") else "mn"
    inputs = [str(text)[:phone.MAX_INPUT] for text in state.get("inputs", [])][:phone.MAX_INPUTS]
    return {"channel": channel, "language": language, "inputs": inputs}


def _render_phone(state: dict, form: PhoneForm | None = None) -> str:
    turns = phone.replay(current_app, state["channel"], state["inputs"], state["language"])
    return render_template("console/_phone.html", state=state, turns=turns, form=form or PhoneForm(),
                           full=len(state["inputs"]) >= phone.MAX_INPUTS)


@bp.get("/phone")
@role("cso")
def phone_page():
    state = _state()
    return render_template("console/phone.html", phone_html=_render_phone(state), state=state)


@bp.post("/phone")
@role("cso")
def phone_send():
    state = _state()
    form = PhoneForm()
    action = request.form.get("action", "send")
    if action in ("sms", "ussd"):
        state = {"channel": action, "language": state["language"], "inputs": []}
    elif action in ("mn", "en"):
        state = {"channel": state["channel"], "language": action, "inputs": []}
    elif action == "reset":
        state["inputs"] = []
    elif form.validate_on_submit() and form.text.data.strip() and len(state["inputs"]) < phone.MAX_INPUTS:
        state["inputs"].append(form.text.data.strip())
    session[PHONE_KEY] = state
    if request.accept_mimetypes.best == "application/json":
        return jsonify(html=_render_phone(state))
    return redirect(url_for(".phone_page"))
