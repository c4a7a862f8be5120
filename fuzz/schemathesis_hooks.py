"""Schemathesis hooks for `cargo xtask fuzz`: bearer logins, stateful links and sign-ups, a check.

`cargo xtask fuzz` loads this module through SCHEMATHESIS_HOOKS. It adds six things to a plain
`schemathesis run` against `openapi.yaml`:

1. Authentication through the contract's `bearerAuth` scheme. Two players are signed up for the
   run (with a random suffix, so a long-running server can be fuzzed again): every secured call
   carries the token of the first, except `POST /api/auth/logout`, which gets a token of its own
   from a fresh login of the second player, so that a logout never revokes the token that all
   the other calls use. Signing up fresh players (rather than logging in a seeded one) keeps
   this cheap: they are hashed at the server's `--scrypt-log-n`, the seeded ones at production
   cost.

2. Links between operations, for the stateful phase. The contract has none (the code generator
   refuses OpenAPI links), and schemathesis infers none for this API, since it has no path
   parameters; without links the stateful phase does not run at all. They are added to the
   loaded document in memory only, never to `openapi.yaml`: sign up, then log in with the same
   email and password; use the token a sign-up or login returned for `me`, a score and logout;
   after a logout, use that same token again; after a score, read its mode's leaderboard.

3. One extra check, `bearer_tokens_are_honoured`: the run's own token is never refused, and a
   token that a logout revoked is never accepted again. Schemathesis's built-in checks cannot see
   either (401 is an allowed answer to valid data, and a logout is not a DELETE).

4. Fresh accounts for the stateful phase's valid sign-ups. Hypothesis replays and mutates the
   scenarios it has drawn, and a replayed sign-up of an email it already registered gets 409
   instead of 201, so the links that follow a 201 vanish between two runs of the same scenario.
   Hypothesis calls that flaky data generation and schemathesis then ends the phase quietly, as
   passed, after some twenty scenarios. So each valid stateful sign-up is sent with an email and a
   username that no earlier call used; their generated shape is kept, and invalid sign-ups and
   the other phases are left exactly as generated (409 stays covered there).

5. Valid sign-ups' passwords made hard to guess: the server refuses the most common passwords,
   a rule no JSON Schema can state, so a schema-valid `00000000` would otherwise count as valid
   data rejected (see `before_call`).

6. Channels (operations with `x-dropshot-websocket`) left out of the loaded document: schemathesis
   speaks HTTP, not WebSocket, so its every call to a channel lacks the upgrade headers and gets
   the documented 400, which `positive_data_acceptance` would count as valid data refused. The
   contract tests drive the channels instead (`tests/api/games.rs`).
"""

import itertools
import secrets
import threading
import urllib.parse

import requests
import requests.adapters
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.generation.meta import TestPhase

HOOK_SOURCE_ADDRESS = "127.0.0.2"
SIGNUP = "/api/auth/signup"
LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"

# The links added for the stateful phase, by source operation and status.
BEARER_FROM_RESPONSE = {"header.Authorization": "Bearer {$response.body#/token}"}
SAME_BEARER = {"header.Authorization": "$request.header.Authorization"}
LINKS = {
    (SIGNUP, "post", "201"): {
        "LogInWithTheNewAccount": {
            "operationId": "auth_login",
            "requestBody": {"email": "$request.body#/email", "password": "$request.body#/password"},
        },
        "MeWithTheNewToken": {"operationId": "auth_me", "parameters": BEARER_FROM_RESPONSE},
        "ScoreWithTheNewToken": {"operationId": "leaderboard_submit", "parameters": BEARER_FROM_RESPONSE},
        "LogOutTheNewToken": {"operationId": "auth_logout", "parameters": BEARER_FROM_RESPONSE},
    },
    (LOGIN, "post", "200"): {
        "MeWithTheNewToken": {"operationId": "auth_me", "parameters": BEARER_FROM_RESPONSE},
        "ScoreWithTheNewToken": {"operationId": "leaderboard_submit", "parameters": BEARER_FROM_RESPONSE},
        "LogOutTheNewToken": {"operationId": "auth_logout", "parameters": BEARER_FROM_RESPONSE},
    },
    (LOGOUT, "post", "204"): {
        "MeWithTheRevokedToken": {"operationId": "auth_me", "parameters": SAME_BEARER},
        "ScoreWithTheRevokedToken": {"operationId": "leaderboard_submit", "parameters": SAME_BEARER},
        "LogOutTheRevokedTokenAgain": {"operationId": "auth_logout", "parameters": SAME_BEARER},
    },
    ("/api/leaderboard", "post", "201"): {
        "LeaderboardOfTheScoresMode": {
            "operationId": "leaderboard_list",
            "parameters": {"query.mode": "$response.body#/mode"},
        },
    },
}


class Tokens:
    """What the run knows about bearer tokens, shared by the auth provider, hooks and check."""

    def __init__(self):
        self.lock = threading.Lock()
        # The HTTP session of the hook's own sign-ups and logins.
        self.session = None
        # The token every secured call but logout carries; it must never be refused.
        self.shared = None
        # Credentials of the player whose fresh logins feed the logout calls.
        self.logout_player = None
        # Every token the server issued to a request the run made (links may carry them).
        self.issued = set()
        # Tokens a logout revoked, with the id of the case that revoked them.
        self.revoked = {}


TOKENS = Tokens()


def is_secured(operation):
    """Whether the contract asks for a bearer token on this operation (its own or the global
    `security`)."""
    security = operation.definition.raw.get("security", operation.schema.raw_schema.get("security"))
    return bool(security)


def bearer_token(headers):
    """The token of an `Authorization: Bearer ...` header, or None."""
    value = headers.get("Authorization") if headers else None
    if isinstance(value, str) and value.startswith("Bearer "):
        return value[len("Bearer ") :]
    return None


class FromSecondLoopbackAddress(requests.adapters.HTTPAdapter):
    """Connects from 127.0.0.2, so the server counts the hook as a client of its own."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (HOOK_SOURCE_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


def hook_session(base_url):
    """The HTTP session the hook signs up and logs in with.

    The server limits sign-ups and failed logins per client address, and the fuzzed requests
    (junk logins by the hundred) spend those budgets for 127.0.0.1 early in a run; past them even
    a correct login is refused with 429, as documented. The fuzzed requests stay subject to every
    limit. Only the hook's own set-up calls come from a second loopback address (on Linux all of
    127.0.0.0/8 is loopback) when the server is on 127.0.0.1, so that they keep working.
    """
    session = requests.Session()
    if urllib.parse.urlsplit(base_url).hostname == "127.0.0.1":
        session.mount("http://", FromSecondLoopbackAddress())
    return session


def sign_up(session, base_url):
    """Signs up a new player with a random name and returns its credentials and token."""
    name = "fuzz-" + secrets.token_hex(6)
    credentials = {"email": f"{name}@example.com", "password": "fuzz-pass-" + secrets.token_hex(8)}
    response = session.post(f"{base_url}{SIGNUP}", json={**credentials, "username": name}, timeout=30)
    if response.status_code != 201:
        raise RuntimeError(f"signing up a fuzz player got {response.status_code}: {response.text}")
    return credentials, response.json()["token"]


def log_in(session, base_url, credentials):
    response = session.post(f"{base_url}{LOGIN}", json=credentials, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"logging in a fuzz player got {response.status_code}: {response.text}")
    return response.json()["token"]


CHANNEL_EXTENSION = "x-dropshot-websocket"


@schemathesis.hook
def before_load_schema(context, raw_schema):
    for path in list(raw_schema["paths"]):
        item = raw_schema["paths"][path]
        for method in [key for key, value in item.items() if isinstance(value, dict) and CHANNEL_EXTENSION in value]:
            del item[method]
        if not any(isinstance(value, dict) and "responses" in value for value in item.values()):
            del raw_schema["paths"][path]
    for (path, method, status), links in LINKS.items():
        response = raw_schema["paths"][path][method]["responses"][status]
        response.setdefault("links", {}).update(links)


# Numbers that make each stateful sign-up's email and username unlike any other in the run.
STATEFUL_SIGNUPS = itertools.count(1)
EMAIL_MAX_LENGTH = 254
EMAIL_LOCAL_MAX_LENGTH = 64
USERNAME_MAX_LENGTH = 20


def made_fresh(email, username, number):
    """The email and username with a prefix unique to `number`, each still within the contract.

    The prefix is the number in hex and a separator (`.` in the email's local part, `-` in the
    username), so no two numbers' prefixes can begin one another and the results are distinct
    even when cut to length. Returns None when the email has no room for the prefix.
    """
    tag = format(number, "x")
    local, at, domain = email.rpartition("@")
    room = min(EMAIL_LOCAL_MAX_LENGTH, EMAIL_MAX_LENGTH - len(domain) - 1)
    fresh_local = f"{tag}.{local}"[:room].rstrip(".")
    if not at or len(fresh_local) <= len(tag):
        return None
    return f"{fresh_local}@{domain}", f"{tag}-{username}"[:USERNAME_MAX_LENGTH]


# Put in front of every valid sign-up's password (see `before_call`). Three unrelated words are
# enough for zxcvbn to rate any password that starts with them 2 of 4 or more, whatever follows
# (checked against the server with runs of one character, digits, keyboard rows, common passwords,
# accented letters and emoji); zxcvbn reads the first 100 characters, so the words go first.
STRONG_PASSWORD_PREFIX = "violet anvil thunder "
PASSWORD_MAX_LENGTH = 128


@schemathesis.hook
def before_call(context, case, kwargs):
    """Keeps valid sign-ups valid by the server's rules too, and fresh in the stateful phase.

    1. A sign-up's password must also not be guessable (the server refuses the most common
       passwords with 400, as the contract's description of `password` says), a rule no JSON
       Schema can state: without this, `positive_data_acceptance` would report schema-valid
       passwords such as `00000000` as valid data rejected. Each valid sign-up's password gets
       `STRONG_PASSWORD_PREFIX` in front, cut to the contract's length. Invalid sign-ups are left
       as generated, and the contract tests (`auth.rs`, `password_policy.rs`) hold the refusal of
       guessable passwords.
    2. Each valid stateful sign-up is sent as a new account (point 4 of the module's notes).
    """
    meta = case.meta
    body = case.body
    if (
        case.path != SIGNUP
        or meta is None
        or not meta.generation.mode.is_positive
        or not isinstance(body, dict)
    ):
        return
    if isinstance(body.get("password"), str):
        strong = (STRONG_PASSWORD_PREFIX + body["password"])[:PASSWORD_MAX_LENGTH]
        body = case.body = {**body, "password": strong}
    if (
        meta.phase.name != TestPhase.STATEFUL
        or not isinstance(body.get("email"), str)
        or not isinstance(body.get("username"), str)
    ):
        return
    fresh = made_fresh(body["email"], body["username"], next(STATEFUL_SIGNUPS))
    if fresh is not None:
        case.body = {**body, "email": fresh[0], "username": fresh[1]}


@schemathesis.hook
def after_call(context, case, response):
    """Remembers every token the server hands out, and every token a logout revokes."""
    if 200 <= response.status_code < 300 and case.path in (SIGNUP, LOGIN):
        try:
            token = response.json()["token"]
        except (ValueError, KeyError, TypeError):
            return  # The response checks report a malformed answer.
        with TOKENS.lock:
            TOKENS.issued.add(token)
    elif response.status_code == 204 and case.path == LOGOUT:
        token = bearer_token(response.request.headers)
        if token is not None:
            with TOKENS.lock:
                TOKENS.revoked.setdefault(token, case.id)


# No caching by schemathesis (`refresh_interval=None`): `get` runs for every case and keeps the
# shared token itself, and logout cases need a new token each time.
@schemathesis.auth(refresh_interval=None)
class FuzzPlayers:
    def get(self, case, context):
        # Only the operations the contract secures get a token; the others are fuzzed as an
        # anonymous client calls them.
        operation = context.operation
        if not is_secured(operation):
            return None
        base_url = operation.schema.get_base_url().rstrip("/")
        with TOKENS.lock:
            if TOKENS.shared is None:
                TOKENS.session = hook_session(base_url)
                _, TOKENS.shared = sign_up(TOKENS.session, base_url)
                TOKENS.logout_player, first_token = sign_up(TOKENS.session, base_url)
                TOKENS.issued.add(first_token)
            if operation.path == LOGOUT:
                token = log_in(TOKENS.session, base_url, TOKENS.logout_player)
                TOKENS.issued.add(token)
                return token
            return TOKENS.shared

    def set(self, case, data, context):
        # A token that a link carried over from an earlier step (a sign-up's, a login's, or one
        # just logged out) is the point of that step: keep it. Generated values never equal a
        # token the server issued.
        current = bearer_token(case.headers)
        with TOKENS.lock:
            if current is not None and current in TOKENS.issued:
                return
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.check
def bearer_tokens_are_honoured(ctx: CheckContext, response: Response, case: Case):
    """The run's own token is never refused; a token revoked by a logout is never accepted."""
    if not is_secured(case.operation):
        return None
    token = bearer_token(response.request.headers)
    if token is None:
        return None
    with TOKENS.lock:
        is_shared = token == TOKENS.shared
        revoked_by = TOKENS.revoked.get(token)
    if is_shared and response.status_code == 401:
        raise AssertionError(
            "The run's own bearer token was refused (401): nothing in the run revokes it, "
            "so the server lost or ended a live session"
        )
    if revoked_by is not None and revoked_by != case.id and 200 <= response.status_code < 300:
        raise AssertionError(
            f"A bearer token revoked by an earlier logout was accepted ({response.status_code})"
        )
    return None
