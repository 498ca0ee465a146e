"""Fake providers: HTTP servers on 127.0.0.1 speaking each provider's documented API (protocols.md §2, §3, §7).

The real SDKs are pointed at them through the `base_url` config keys. Each fake records every request and can be
told to misbehave for the next requests (`fail_next("500", "429")`) or for all of them (`always = "500"`):
  "500", "429"     — that HTTP error, in the provider's error format
  "timeout"        — hold the request for `hang_seconds`, then answer 504 (the client has given up by then)
  "slow"           — wait `slow_seconds`, then succeed
  "empty_recipients", "blacklisted" (Africa's Talking), "unsubscribed" (Twilio 21610),
  "invalid_to" (Twilio 21211, whose message quotes the "To" number)
  "accept_then_hang" — take the message, then hold the answer for `hang_seconds` (a crash mid-answer)
  "empty_201" (Twilio, Africa's Talking) — take the message, but answer 201 with an empty body
Only successes count as `accepted`. The fake Twilio also lists the messages it took (GET Messages.json?To=).
"""
from __future__ import annotations

import base64
import email.utils
import threading
import time
import uuid
from dataclasses import dataclass

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    form: dict
    json: object
    at: float


class FakeProvider:
    name = "fake"

    def __init__(self):
        self.requests: list[Recorded] = []
        self.accepted: list[dict] = []
        self.modes: list[str] = []
        self.always: str | None = None
        self.next_ids: list[str] = []  # provider ids to hand out first (to match documented fixtures)
        self.clock = time.monotonic  # what `Recorded.at` is read from; a test may inject its own
        self.hang_seconds = 3.0
        self.slow_seconds = 0.3
        self.lock = threading.Lock()
        self.app = Flask(f"fake-{self.name}")
        self.routes(self.app)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        # A short poll interval: shutdown() waits for the next poll, and every test stops three fakes.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def kill(self) -> None:
        """The phone dies: it stops serving and its port is closed, so every new request is refused."""
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, *modes: str) -> None:
        with self.lock:
            self.modes.extend(modes)

    def record(self) -> str | None:
        """Record the current request and return the misbehaviour to apply to it, if any."""
        with self.lock:
            self.requests.append(Recorded(request.method, request.path, dict(request.headers),
                                          request.form.to_dict(flat=False) if request.form else {},
                                          request.get_json(silent=True), self.clock()))
            return self.modes.pop(0) if self.modes else self.always

    def new_id(self, prefix: str) -> str:
        with self.lock:
            return self.next_ids.pop(0) if self.next_ids else prefix + uuid.uuid4().hex

    def misbehave(self, mode: str | None) -> Response | None:
        if mode == "timeout":
            time.sleep(self.hang_seconds)
            return self.error(504)
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode in ("500", "429"):
            return self.error(int(mode))
        return None

    def error(self, status: int) -> Response:
        response = jsonify(message=f"fake {status}")
        response.status_code = status
        return response

    def basic_auth(self) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        login, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return login, password

    def routes(self, app: Flask) -> None:
        raise NotImplementedError

    def sent_texts(self) -> list[str]:
        return [item["text"] for item in self.accepted]


class FakeTwilio(FakeProvider):
    """POST /2010-04-01/Accounts/{sid}/Messages.json and GET /2010-04-01/Accounts/{sid}.json (HTTP Basic)."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid, self.auth_token = account_sid, auth_token
        super().__init__()

    def error(self, status: int) -> Response:
        code = {429: 20429, 500: 20500, 504: 20504}.get(status, 20001)
        response = jsonify(code=code, message=f"fake error {status}", more_info="", status=status)
        response.status_code = status
        return response

    def routes(self, app: Flask) -> None:
        @app.post("/2010-04-01/Accounts/<sid>/Messages.json")
        def create_message(sid):
            mode = self.record()
            if self.basic_auth() != (self.account_sid, self.auth_token) or sid != self.account_sid:
                return self.error(401)
            failure = self.misbehave(mode)
            if failure is not None:
                return failure
            if mode == "unsubscribed":
                response = jsonify(code=21610, message="Attempt to send to unsubscribed recipient", status=400)
                response.status_code = 400
                return response
            if mode == "invalid_to":
                response = jsonify(code=21211, status=400,
                                   message=f"The 'To' number {request.form['To']} is not a valid phone number.")
                response.status_code = 400
                return response
            message_sid = self.new_id("SM")
            with self.lock:
                self.accepted.append({"sid": message_sid, "to": request.form["To"], "text": request.form["Body"],
                                      "status_callback": request.form.get("StatusCallback"),
                                      "created": email.utils.formatdate(usegmt=True)})
            if mode == "empty_201":
                return Response("", status=201, content_type="application/json")
            if mode == "accept_then_hang":
                time.sleep(self.hang_seconds)
            response = jsonify(sid=message_sid, account_sid=sid, status="queued", num_segments="1",
                               to=request.form["To"], body=request.form["Body"], direction="outbound-api",
                               error_code=None, error_message=None, api_version="2010-04-01",
                               **{"from": request.form.get("From")})
            response.status_code = 201
            return response

        @app.get("/2010-04-01/Accounts/<sid>/Messages.json")
        def list_messages(sid):
            mode = self.record()
            if self.basic_auth() != (self.account_sid, self.auth_token) or sid != self.account_sid:
                return self.error(401)
            failure = self.misbehave(mode)
            if failure is not None:
                return failure
            with self.lock:
                mine = [m for m in reversed(self.accepted) if m["to"] == request.args.get("To", m["to"])]
            page = [{"sid": m["sid"], "to": m["to"], "body": m["text"], "status": "queued", "account_sid": sid,
                     "date_created": m["created"], "direction": "outbound-api"} for m in mine]
            return jsonify(messages=page, page=0, page_size=50, next_page_uri=None, previous_page_uri=None,
                           first_page_uri=request.full_path, uri=request.full_path)

        @app.get("/2010-04-01/Accounts/<sid>.json")
        def fetch_account(sid):
            mode = self.record()
            if self.basic_auth() != (self.account_sid, self.auth_token):
                return self.error(401)
            return self.misbehave(mode) or jsonify(sid=sid, status="active", friendly_name="fake")


class FakeAfricasTalking(FakeProvider):
    """POST /version1/messaging (form, `apiKey` header) and GET /version1/user."""

    name = "africastalking"

    def __init__(self, username: str, api_key: str):
        self.username, self.api_key = username, api_key
        super().__init__()

    def error(self, status: int) -> Response:
        return Response(f"fake error {status}", status=status, content_type="text/plain; charset=UTF-8")

    def routes(self, app: Flask) -> None:
        @app.post("/version1/messaging")
        def messaging():
            mode = self.record()
            if request.headers.get("apiKey") != self.api_key or request.form.get("username") != self.username:
                return Response("The supplied authentication is invalid", 401, content_type="text/plain; charset=UTF-8")
            failure = self.misbehave(mode)
            if failure is not None:
                return failure
            if mode == "empty_recipients":
                return self._answer({"Message": "InvalidSenderId", "Recipients": []})
            recipients = []
            for number in request.form["to"].split(","):
                if mode == "blacklisted":
                    recipients.append({"cost": "0", "messageId": "None", "number": number,
                                       "status": "UserInBlacklist", "statusCode": 406})
                    continue
                message_id = self.new_id("ATXid_")
                with self.lock:
                    self.accepted.append({"id": message_id, "to": number, "text": request.form["message"]})
                if mode == "empty_201":
                    return Response("", status=201, content_type="application/json")
                recipients.append({"cost": "KES 0.8000", "messageId": message_id, "messageParts": 1,
                                   "number": number, "status": "Success", "statusCode": 101})
            if mode == "accept_then_hang":
                time.sleep(self.hang_seconds)
            return self._answer({"Message": f"Sent to {len(recipients)}/{len(recipients)}",
                                 "Recipients": recipients})

        @app.get("/version1/user")
        def user():
            mode = self.record()
            if request.headers.get("apiKey") != self.api_key:
                return Response("The supplied authentication is invalid", 401)
            return self.misbehave(mode) or jsonify(UserData={"balance": "KES 100.0000"})

    def _answer(self, data: dict) -> Response:
        response = jsonify(SMSMessageData=data)  # content-type exactly application/json, as the SDK requires
        response.status_code = 201
        return response


class FakeAndroid(FakeProvider):
    """The phone's API: POST /messages (JSON, Basic auth; a known id is 409) and GET /health."""

    name = "android"

    def __init__(self, login: str, password: str):
        self.login, self.password = login, password
        self.health_status = "pass"
        self.ids: set[str] = set()
        super().__init__()

    def routes(self, app: Flask) -> None:
        @app.post("/messages")
        def messages():
            mode = self.record()
            if self.basic_auth() != (self.login, self.password):
                return self.error(401)
            if mode != "accept_then_hang":
                failure = self.misbehave(mode)
                if failure is not None:
                    return failure
            body = request.get_json()
            message_id = body.get("id") or uuid.uuid4().hex
            with self.lock:
                if message_id in self.ids:
                    return self.error(409)
                self.ids.add(message_id)
                self.accepted.append({"id": message_id, "to": body["phoneNumbers"][0],
                                      "text": body["textMessage"]["text"], "sim": body.get("simNumber")})
            if mode == "accept_then_hang":
                time.sleep(self.hang_seconds)
            response = jsonify(id=message_id, state="Pending", isHashed=False, isEncrypted=False,
                               recipients=[{"phoneNumber": n, "state": "Pending"} for n in body["phoneNumbers"]])
            response.status_code = 202
            return response

        @app.get("/health")
        def health():
            mode = self.record()
            if self.basic_auth() != (self.login, self.password):
                return self.error(401)
            return self.misbehave(mode) or jsonify(status=self.health_status, version="1.20.0", releaseId=1,
                                                   checks={"battery:level": {"status": "pass", "observedValue": 80,
                                                                             "observedUnit": "percent"}})
