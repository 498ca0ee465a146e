"""Admin: users and their areas (invite, change, disable, unlock), API tokens, channels with their status and the
webhook URLs to paste, and the audit log. Admins only; every change is audited."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from gateway.channels.base import CHANNEL_CLASSES, get_channel
from gateway.console import auth
from gateway.console.audience import unit_choices
from gateway.console.auth import audit, current_language, role
from gateway.console.dashboard import channel_health
from gateway.console.forms import ConsoleForm
from gateway.webhooks import ROUTES
from storage import audit as audit_log
from storage import console as users
from storage import tokens
from storage.access import ROLES, Scope
from storage.db import utcnow
from storage.phones import mask_phones_in

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_ROWS = 200


class UserForm(ConsoleForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=users.USERNAME_MAX)])
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=[(r, auth.ROLE_NAMES[r]) for r in ROLES])
    units = SelectMultipleField(_l("Areas"), choices=[], validate_choice=False)
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=120)])


class ChangeUserForm(ConsoleForm):
    role = SelectField(_l("Role"), choices=[(r, auth.ROLE_NAMES[r]) for r in ROLES])
    units = SelectMultipleField(_l("Areas"), choices=[], validate_choice=False)
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=120)])


class TokenForm(ConsoleForm):
    name = StringField(_l("Who holds it"), validators=[DataRequired(), Length(max=80)])
    role = SelectField(_l("Role"), choices=[(r, auth.ROLE_NAMES[r]) for r in ROLES])
    units = SelectMultipleField(_l("Areas"), choices=[], validate_choice=False)
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=120)])
    days = IntegerField(_l("Valid for (days)"), default=tokens.DEFAULT_DAYS,
                        validators=[DataRequired(), NumberRange(min=1, max=tokens.MAX_DAYS)])


def _unit_choices() -> list[tuple[str, str]]:
    return [(value.split(":", 1)[1], label) for value, label in unit_choices(current_language())]


@bp.get("/")
@role("admin")
def index():
    return redirect(url_for(".users_page"))


def _users_page(form: UserForm | None = None, invite_link: str | None = None, code: int = 200):
    form = form or UserForm(prefix="new")
    form.units.choices = _unit_choices()
    rows = [(user, users.principal_of(user)) for user in users.list_users()]
    locked = {row.key for row in users.locked_keys(utcnow())}
    return render_template("console/admin_users.html", rows=rows, form=form, invite_link=invite_link,
                           locked={user.id for user, _ in rows if auth.throttle_key(user.username) in locked},
                           unit_choices=_unit_choices()), code


@bp.get("/users")
@role("admin")
def users_page():
    return _users_page()


def _link(token: str) -> str:
    return url_for("console.auth.invite", token=token, _external=True)


@bp.post("/users")
@role("admin")
def invite():
    form = UserForm(prefix="new")
    form.units.choices = _unit_choices()
    if not form.validate_on_submit():
        return _users_page(form, code=400)
    token = auth.new_invite_token()
    try:
        user = users.create_user(form.username.data, form.display_name.data, form.role.data, form.units.data or [],
                                 form.organisation.data, None, g.principal.name, invite_token=token)
    except users.UserError as exc:
        form.username.errors = [str(exc)]
        return _users_page(form, code=400)
    audit("user.create", f"user:{user.id}", f"role={user.role} scope={user.scope}")
    return _users_page(invite_link=_link(token))


def _user(user_id: int) -> users.ConsoleUser:
    return users.user_by_id(user_id) or abort(404)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role("admin")
def user_page(user_id: int):
    user = _user(user_id)
    form = ChangeUserForm(prefix="user")
    form.units.choices = _unit_choices()
    if request.method == "GET":
        form.role.data, form.units.data, form.organisation.data = user.role, users.unit_codes_of(user), \
            users.organisation_of(user)
    elif form.validate_on_submit():
        last_admin = user.role == "admin" and form.role.data != "admin" and users.count_admins() <= 1
        try:
            if last_admin:
                raise users.UserError(_("This is the last admin: make someone else admin first."))
            users.update_user(user, form.role.data, form.units.data or [], form.organisation.data)
        except users.UserError as exc:
            form.role.errors = [str(exc)]
        else:
            audit("user.change", f"user:{user.id}", f"role={form.role.data} scope={users.user_by_id(user.id).scope}")
            flash(_("Saved. The user's open sessions have ended."))
            return redirect(url_for(".user_page", user_id=user.id))
    return render_template("console/admin_user.html", user=user, form=form,
                           locked=bool(users.throttle_of(auth.throttle_key(user.username)))), \
        200 if request.method == "GET" or not form.errors else 400


@bp.post("/users/<int:user_id>/<action>")
@role("admin")
def user_action(user_id: int, action: str):
    user = _user(user_id)
    if action not in ("disable", "enable", "unlock", "reinvite"):
        abort(404)
    if action == "disable" and (user.id == g.principal.id or (user.role == "admin" and users.count_admins() <= 1)):
        flash(_("You cannot disable yourself or the last admin."), "error")
        return redirect(url_for(".user_page", user_id=user.id))
    audit(f"user.{action}", f"user:{user.id}")
    if action == "unlock":
        auth.unlock(user.username)
        flash(_("Unlocked."))
    elif action == "reinvite":
        token = auth.new_invite_token()
        users.reinvite(user, token)
        return render_template("console/admin_user.html", user=user, form=None, invite_link=_link(token),
                               locked=False)
    else:
        users.set_disabled(user, action == "disable")
        flash(_("Disabled: every session of this user has ended.") if action == "disable" else _("Enabled."))
    return redirect(url_for(".user_page", user_id=user.id))


# ---- API tokens ----------------------------------------------------------------------------------------


def _tokens_page(form: TokenForm, plain: str | None = None, code: int = 200):
    rows = [(token, tokens.principal_of(token)) for token in tokens.list_tokens()]
    return render_template("console/admin_tokens.html", form=form, rows=rows, plain=plain, now=utcnow()), code


@bp.route("/tokens", methods=["GET", "POST"])
@role("admin")
def tokens_page():
    form = TokenForm(prefix="token")
    form.units.choices = _unit_choices()
    if request.method == "GET":
        return _tokens_page(form)
    if not form.validate_on_submit():
        return _tokens_page(form, code=400)
    scope = Scope.of(form.units.data or []) if form.units.data else None
    try:
        token, plain = tokens.create_token(form.name.data.strip(), form.role.data, scope,
                                           form.organisation.data or None, form.days.data)
    except ValueError as exc:
        form.units.errors = [str(exc)]
        return _tokens_page(form, code=400)
    audit("token.create", f"token:{token.id}", f"role={token.role} scope={token.scope} days={form.days.data}")
    return _tokens_page(form, plain=plain)


@bp.post("/tokens/<int:token_id>/revoke")
@role("admin")
def revoke_token(token_id: int):
    if tokens.revoke(token_id):
        audit("token.revoke", f"token:{token_id}")
        flash(_("The token is revoked: it stops working at once."))
    return redirect(url_for(".tokens_page"))


# ---- channels ------------------------------------------------------------------------------------------


def base_url() -> str:
    """The public URL when configured; otherwise the host and port this page was reached on."""
    public = current_app.config["GATEWAY"]["public_url"]
    return (public or request.host_url).rstrip("/")


def webhook_urls(name: str) -> list[tuple[str, str]]:
    token = current_app.config["GATEWAY"]["channels"]["africastalking"].get("webhook_token")
    suffix = f"?token={token or '<AT_WEBHOOK_TOKEN>'}" if name == "africastalking" else ""
    return [(action, f"{base_url()}{path}{suffix}") for path, channel, action in ROUTES if channel == name]


@bp.route("/channels", methods=["GET", "POST"])
@role("admin")
def channels_page():
    checks = {}
    if request.method == "POST":  # "check now": one authenticated call to each configured provider
        for name in CHANNEL_CLASSES:
            channel = get_channel(current_app, name)
            if channel is not None and not channel.missing_secrets():
                try:
                    checks[name] = (True, mask_phones_in(str(channel.check()))[:200])
                except Exception as exc:  # any SDK or network error is the answer to "is it reachable?"
                    checks[name] = (False, mask_phones_in(f"{type(exc).__name__}: {exc}")[:200])
        audit("channels.check", None)
    health = channel_health(current_app)
    return render_template("console/admin_channels.html", channels=health, checks=checks,
                           urls={row["name"]: webhook_urls(row["name"]) for row in health})


# ---- audit log -----------------------------------------------------------------------------------------


@bp.get("/audit")
@role("admin")
def audit_page():
    actor, action = request.args.get("actor", "").strip()[:80], request.args.get("action", "").strip()[:80]
    rows = audit_log.entries(action=action or None, actor=actor or None, limit=AUDIT_ROWS)
    return render_template("console/admin_audit.html", rows=rows, actor=actor, action=action)
