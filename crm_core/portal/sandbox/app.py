"""The portal simulator: two Starlette apps (portal and TMS origins) sharing one `SandboxState`.

Portal: `/home/login` (form `user_name`/`password`), `/home/otp`, `/home` (the "Daily Operations Tracker"
card links to the TMS `/sso?token=…` hand-off), admin under `/__sandbox/`. TMS: `/sso`, the partner dashboard
and the CSV exports (`crm_core.exports`); without a TMS session every TMS URL answers the "You need to be
logged in to view this page!" notice with HTTP 200, as the real TMS does.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import secrets
import threading
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from crm_core.dashboard import SECTIONS, Metric, metrics_of
from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.faults import Fault, FaultBoard, FaultSpecError
from crm_core.store_codes import STORE_CODE_RE

PORTAL_COOKIE = "ci_session"
TMS_COOKIE = "tms_session"
DEMO_USERNAME = "A668"
DEMO_PASSWORD = "sandbox-pass-668"
DEMO_OTP = "246810"
NOTICE = "You need to be logged in to view this page!"

# export key → (relative URL without query, `type` parameter or None, vendor's suggested file stem)
CSV_ENDPOINTS: dict[str, tuple[str, str | None, str]] = {
    "missed_leads": ("/mis/download_csv", None, "pickup"),
    "undelivered_last10": ("/mis/download_undelivered_csv", "u10", "undelieverd_order"),
    "undelivered_u": ("/mis/download_undelivered_csv", "u", "undelieverd_order"),
    "undelivered_all": ("/mis/download_undelivered_csv", "a", "undelieverd_order"),
    "repeat_customers": ("/mis/download_repeat_csv", None, "repeat"),
    "nonpackage_all": ("/mis/download_nonpackageorder_csv", "all", "nonpackage_order"),
    "nonpackage_u": ("/mis/download_nonpackageorder_csv", "u", "nonpackage_order"),
}


def default_dashboard_date() -> date:
    """The real dashboard shows yesterday (Asia/Kolkata) when the morning job runs."""
    return datetime.now(ZoneInfo("Asia/Kolkata")).date() - timedelta(days=1)


@dataclass
class SandboxState:
    """Everything both origins share: credentials, sessions, hand-off tokens, faults, counters."""

    portal_origin: str = ""
    tms_origin: str = ""
    username: str = DEMO_USERNAME
    password: str = DEMO_PASSWORD
    otp_code: str = DEMO_OTP
    seed: int = 0
    rows: int | None = None  # rows per CSV export (load tests); None: each store's own rows
    dashboard_date: date = field(default_factory=default_dashboard_date)
    faults: FaultBoard = field(default_factory=FaultBoard)
    stats: Counter[str] = field(default_factory=Counter)
    portal_sessions: set[str] = field(default_factory=set)
    otp_pending: set[str] = field(default_factory=set)
    tms_sessions: set[str] = field(default_factory=set)
    handoff_tokens: dict[str, str] = field(default_factory=dict)
    # Required by the control endpoints (faults, expiry, config): another local user or a web page in a
    # browser must not be able to switch the simulator's behaviour.
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, key: str) -> None:
        with self.lock:
            self.stats[key] += 1

    def expire(self, scope: str = "tms") -> None:
        with self.lock:
            self.tms_sessions.clear()
            if scope == "all":
                self.portal_sessions.clear()
                self.handoff_tokens.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "portal": self.portal_origin,
                "tms": self.tms_origin,
                "seed": self.seed,
                "dashboard_date": self.dashboard_date.isoformat(),
                "stats": dict(self.stats),
                "faults": self.faults.list(),
            }


# --- page templates ------------------------------------------------------------------------------------

_CSS = "<link rel='stylesheet' href='data:text/css,'>"


def _page(title: str, body: str, nav: str = "") -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>{_CSS}</head><body><nav class='navbar navbar-expand-lg'>"
        "<a class='navbar-brand' href='#'>TSV Partner</a>"
        f"<ul class='navbar-nav'>{nav}</ul></nav><div class='container-fluid'>{body}</div></body></html>"
    )


def _login_page(error: str | None = None) -> str:
    alert = f"<div class='alert alert-danger'>{html.escape(error)}</div>" if error else ""
    return _page(
        "Login",
        f"<h2>Partner Login</h2>{alert}<form method='post' action='/home/login'>"
        "<input type='text' name='user_name' placeholder='Store code' autocomplete='username'>"
        "<input type='password' name='password' placeholder='Password' autocomplete='current-password'>"
        "<button type='submit' class='btn btn-primary'>Login</button></form>",
    )


def _notice_page() -> str:
    nav = "<li><a href='/login'>Login</a></li><li><a href='/register'>Register</a></li>"
    side = (
        "<div class='sidebar'><a href='/home'>Overview</a><a href='/members'>Users</a>"
        "<a href='/user_settings'>Settings</a></div>"
    )
    return _page(
        "Error",
        f"{side}<h1>Error</h1><div class='alert alert-warning'>{NOTICE}</div>"
        "<a class='btn btn-secondary' href='javascript:history.back()'>Go Back</a>",
        nav,
    )


def _indian(amount: Decimal) -> str:
    """2,45,300 style grouping (last three digits, then pairs)."""
    whole = str(int(amount.quantize(Decimal(1))))
    sign, whole = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    head, tail = whole[:-3], whole[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return sign + ",".join([*groups, tail]) if groups else sign + tail


_VARIANT_LABELS = {
    "prev_month_revenue": "Previous Month Revenue",
    "target_revenue": "Target Revenue",
    "tgt_vs_ach_pct": "Target vs Ach.",
    "growth_pct": "Growth %",
    "mtd_revenue": "Month to date",
    "pickup_new_conv_pct": "New Conversion Percentage",
    "delivery_within_tat_count": "TAT",
    "delivery_total_delivered": "Delivered",
    "delivery_undel_over_10_days": "Undel.&nbsp;&gt;10 Days",
}


def _format_metric(metric: Metric, value: Decimal | int, lakh: bool, index: int) -> str:
    if metric.kind == "money":
        amount = Decimal(value)
        if lakh and amount >= 100_000:
            return f"₹ {amount / 100_000:.2f} L"
        return f"₹ {_indian(amount)}" if index % 2 == 0 else _indian(amount)
    if metric.kind == "pct":
        return f"{Decimal(value):.2f}%"
    if metric.name in ("delivery_undel_over_10_days", "delivery_total_undelivered"):
        return f"{value} <a href='#undelivered' class='small'>View</a>"
    return str(value)


def _dashboard_page(state: SandboxState, store: str, faults: Callable[[str], Fault | None]) -> str:
    day = data.store_day(store, state.dashboard_date, state.seed)
    missing = faults("missing_section")
    missing_name = (missing.value or "Delivery") if missing else None
    na_cells = faults("na_cells") is not None
    lakh = faults("lakh") is not None
    variants = faults("header_variants") is not None
    date_text = "sometime last week" if faults("bad_date") else f"{state.dashboard_date:%d %b %Y}"
    nav = f"<li class='nav-item user_bit'><a href='#'>{store} {data.gstin(store)}</a></li>"
    parts = [
        f"<h1 class='dashboard-title'>Partner Dashboard<br>{html.escape(day.store_name)}<br>"
        f"<small>Dashboard Date: {date_text}</small></h1>",
        f"<h3 class='section-title'>Launch Date</h3><p>{data.launch_date(store):%d-%m-%Y}</p>",
    ]
    for section in SECTIONS:
        if section == missing_name:
            continue
        metrics = metrics_of(section)
        headers = [_VARIANT_LABELS.get(m.name, html.escape(m.label)) if variants else html.escape(m.label)
                   for m in metrics]  # fmt: skip
        cells = []
        for i, metric in enumerate(metrics):
            if na_cells and i % 4 == 1:
                cells.append("-" if i % 8 == 1 else "N/A")
            else:
                cells.append(_format_metric(metric, day.metrics[metric.name], lakh, i))
        if section == "Revenue":
            headers, cells = ["", *headers], ["Revenue", *cells]
        parts.append(
            f"<h3 class='section-title'>{section}</h3><table class='table table-bordered'><thead><tr>"
            + "".join(f"<th>{h}</th>" for h in headers)
            + "</tr></thead><tbody><tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr></tbody></table>"
        )
    links = "".join(
        f"<a title='Download' href='{path}?{'type=' + kind + '&' if kind else ''}store_code={store}'>"
        f"{key.replace('_', ' ').title()}</a> "
        for key, (path, kind, _stem) in CSV_ENDPOINTS.items()
        if key in ("missed_leads", "undelivered_all", "repeat_customers", "nonpackage_all", "undelivered_u")
    )
    parts.append(f"<div class='downloads'>{links}</div>")
    body = "".join(parts)
    if deep := faults("deep_dashboard"):
        # Built by script: the DOM has no depth limit, while the HTML parser flattens beyond 512.
        depth = int(deep.value or 3000)
        body = (
            f"<div id='deep'>{body}</div><script>(() => {{ const top = document.getElementById('deep');"
            f"const kids = [...top.childNodes]; let node = top;"
            f"for (let i = 0; i < {depth}; i++) {{ const d = document.createElement('div');"
            f"node.appendChild(d); node = d; }} kids.forEach(k => node.appendChild(k)); }})();</script>"
        )
    return _page(f"Dashboard {store}", body, nav)


# --- CSV bodies -----------------------------------------------------------------------------------------


def _rows_for(key: str, day: data.StoreDay) -> tuple[list[str], list[dict[str, str]]]:
    if key == "missed_leads":
        return list(data.MISSED_LEADS_HEADER), [dict(r) for r in day.missed_leads]
    if key.startswith("undelivered"):
        rows = [dict(r) for r in day.undelivered]
        if key == "undelivered_u":
            rows = [r for r in rows if not r["actual_deliver_on"]]
        elif key == "undelivered_last10":
            rows = [
                r
                for r in rows
                if not r["actual_deliver_on"] and r["order_date"] >= str(day.day - timedelta(10))
            ]
        return list(data.UNDELIVERED_HEADER), rows
    if key == "repeat_customers":
        return list(data.REPEAT_HEADER), [dict(r) for r in day.repeat_customers]
    rows = [dict(r) for r in day.nonpackage]
    if key == "nonpackage_u":
        rows = [r for r in rows if not r["Actual Delivery Date"]]
    return list(data.NONPACKAGE_HEADER), rows


_DATE_COLUMNS = {
    "pickup_created_date", "pickup_date", "order_date", "expected_deliver_on", "actual_deliver_on",
    "Expected Delivery Date", "Actual Delivery Date",
}  # fmt: skip
_TEXT_FOR_NON_UTF8 = {
    "customer_name": "José",
    "status": "Pendiente café",
    "Status": "Sí",
    "Store Name": "Zoë",
}


def _csv_body(
    key: str, day: data.StoreDay, faults: Callable[[str], Fault | None], size: int | None = None
) -> bytes:
    header, rows = _rows_for(key, day)
    if size is not None:
        rows = data.sized_rows(rows, size, day.store_code)
    if faults("header_only"):
        rows = []
    if faults("order_id") and "order_no" in header:
        header[header.index("order_no")] = "order_id"
        rows = [{("order_id" if k == "order_no" else k): v for k, v in r.items()} for r in rows]
    dates = faults("dates")
    if dates:
        sep = "/" if dates.value == "slash" else "-"
        for row in rows:
            for col in _DATE_COLUMNS & row.keys():
                if row[col]:
                    y, m, d = row[col].split("-")
                    row[col] = f"{d}{sep}{m}{sep}{y}"
    if faults("duplicate_keys") and rows:
        rows += [
            dict(r, **{header[-1]: r[header[-1]] + " (again)" if r[header[-1]] else "x"}) for r in rows[:3]
        ]
    if faults("bad_values") and len(rows) > 2:
        first = header[0]
        rows[1] = dict(rows[1], **{first: "not-a-number" if first == "id" else rows[1][first]})
        for col in ("net_amount", "taxable_amount"):
            if col in rows[1]:
                rows[1][col] = "₹1,234.00"
        for col in _DATE_COLUMNS & rows[2].keys():
            rows[2][col] = "31-31-2025"
    encoding = "utf-8"
    if faults("non_utf8") and rows:
        encoding = "cp1252"
        for col, text in _TEXT_FOR_NON_UTF8.items():
            if col in rows[0]:
                rows[0][col] = text
    out_header = list(header)
    if faults("extra_column"):
        out_header = [h.upper() for h in header]
        out_header.insert(2, "Internal Ref")
        rows = [{**r, "Internal Ref": f"IR-{i:04d}"} for i, r in enumerate(rows)]
        header = [*header[:2], "Internal Ref", *header[2:]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(out_header)
    for row in rows:
        writer.writerow([row.get(col, "") for col in header])
    text = buffer.getvalue()
    if faults("no_newline"):
        text = text.rstrip("\r\n")
    if faults("truncated") and rows:
        last_start = text.rstrip("\r\n").rfind("\n") + 1
        text = text[: last_start + (len(text) - last_start) // 3]
    if long := faults("long_field"):
        lines = text.split("\r\n")  # the last item is the empty one after the final line break
        cells = lines[-2].split(",") if len(lines) > 2 else []
        if cells:
            cells[min(3, len(cells) - 1)] = "x" * int(long.value or 200_000)
            lines[-2] = ",".join(cells)
            text = "\r\n".join(lines)
    if faults("bom"):
        text = "\ufeff" + text
    return text.encode(encoding)


_STREAM_PIECE = 1 << 20


def _repeated(body: bytes, size: int) -> Iterator[bytes]:
    """`body`'s header, then its rows again and again up to about `size` bytes: a large valid CSV made
    on the fly (the simulator never holds it)."""
    header, _, rows = body.partition(b"\r\n")
    rows = rows or b"\r\n"
    block = rows * max(1, _STREAM_PIECE // len(rows))
    yield header + b"\r\n"
    sent = len(header) + 2
    while sent < size:
        piece = block[: size - sent] if size - sent < len(block) else block
        cut = piece.rfind(b"\r\n") + 2 if piece is not block else len(piece)
        if cut <= 1:
            return
        yield piece[:cut]
        sent += cut


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header
    for chunk in chunks:
        if out := compressor.compress(chunk):
            yield out
    yield compressor.flush()


def _large_response(
    body: bytes, faults: Callable[[str], Fault | None], headers: dict[str, str]
) -> Response | None:
    """The `big`, `big_chunked` and `gzip_bomb` faults: a body streamed, never built in memory."""
    if big := faults("big") or faults("big_chunked"):
        size = int(big.value or 300_000_000)
        if big.name == "big":
            length = sum(len(piece) for piece in _repeated(body, size))
            headers = {**headers, "Content-Length": str(length)}
        return StreamingResponse(_iterate(_repeated(body, size)), media_type="text/csv", headers=headers)
    if bomb := faults("gzip_bomb"):
        size = int(bomb.value or 1_500_000_000)
        return StreamingResponse(
            _iterate(_gzipped(_repeated(body, size))),
            media_type="text/csv",
            headers={**headers, "Content-Encoding": "gzip"},
        )
    return None


async def _iterate(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)  # let the other requests of the event loop through


# --- apps ----------------------------------------------------------------------------------------------


def _has(state: SandboxState, sessions: set[str], token: str | None) -> bool:
    with state.lock:
        return token is not None and token in sessions


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _store_of(request: Request) -> str | None:
    code = request.query_params.get("store_code", "").strip().upper()
    return code if STORE_CODE_RE.fullmatch(code) else None


Handler = Callable[[Request], Awaitable[Response]]


def _with_faults(state: SandboxState, endpoint: str | Callable[[Request], str], handler: Handler) -> Handler:
    """Common faults for any endpoint: slowness, status codes, empty bodies."""

    async def wrapped(request: Request) -> Response:
        name = endpoint(request) if callable(endpoint) else endpoint
        store = _store_of(request)
        state.count(f"request:{name}")
        slow = state.faults.take("slow", store, name)
        if slow:
            await asyncio.sleep(float(slow.value or 2))
        status = state.faults.take("status", store, name)
        if status:
            code = int(status.value or 500)
            headers = {"Retry-After": "1"} if code == 429 else {}
            return Response(f"HTTP {code}", status_code=code, headers=headers, media_type="text/plain")
        if state.faults.take("empty", store, name):
            return Response(b"", media_type="text/csv")
        return await handler(request)

    return wrapped


CONTROL_HEADER = "X-Sandbox-Token"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def _control(state: SandboxState, handler: Handler) -> Handler:
    """A control endpoint: the start-up token in `X-Sandbox-Token` and a loopback Host header (so a page
    of another site, through DNS rebinding, cannot reach it either); 403 otherwise."""

    async def wrapped(request: Request) -> Response:
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        token = request.headers.get(CONTROL_HEADER, "")
        if host not in _LOOPBACK_HOSTS:
            return JSONResponse({"error": "Host must be 127.0.0.1 or localhost"}, status_code=403)
        if not secrets.compare_digest(token.encode(), state.control_token.encode()):
            return JSONResponse({"error": f"missing or wrong {CONTROL_HEADER}"}, status_code=403)
        return await handler(request)

    return wrapped


def portal_app(state: SandboxState) -> Starlette:
    def session_of(request: Request) -> str | None:
        token = request.cookies.get(PORTAL_COOKIE)
        return token if _has(state, state.portal_sessions, token) else None

    async def login_get(request: Request) -> Response:
        if session_of(request):
            return RedirectResponse("/home", status_code=302)
        return HTMLResponse(_login_page())

    async def login_post(request: Request) -> Response:
        form = await _form(request)
        user, password = form.get("user_name", "").strip().upper(), form.get("password", "")
        forced = state.faults.take("login_error", None, "login")
        if forced or user != state.username.upper() or not secrets.compare_digest(password, state.password):
            state.count("login_failed")
            return HTMLResponse(_login_page("Invalid username or password"))
        token = secrets.token_urlsafe(24)
        if state.faults.take("otp", None, "login"):
            with state.lock:
                state.otp_pending.add(token)
            response: Response = RedirectResponse("/home/otp", status_code=303)
        else:
            with state.lock:
                state.portal_sessions.add(token)
            state.count("login_ok")
            response = RedirectResponse("/home", status_code=303)
        response.set_cookie(PORTAL_COOKIE, token, httponly=True, samesite="lax")
        return response

    async def otp(request: Request) -> Response:
        token = request.cookies.get(PORTAL_COOKIE)
        if not _has(state, state.otp_pending, token):
            return RedirectResponse("/home/login", status_code=302)
        if request.method == "POST":
            if (await _form(request)).get("otp", "").strip() == state.otp_code:
                with state.lock:
                    state.otp_pending.discard(token or "")
                    state.portal_sessions.add(token or "")
                state.count("login_ok")
                return RedirectResponse("/home", status_code=303)
            return HTMLResponse(_page("OTP", "<div class='alert'>Wrong OTP</div>" + _otp_form()))
        return HTMLResponse(_page("OTP", _otp_form()))

    async def home(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/home/login", status_code=302)
        handoff = secrets.token_urlsafe(16)
        with state.lock:
            state.handoff_tokens[handoff] = session
        target = "" if state.faults.take("same_tab", None, "tracker") else " target='_blank'"
        cards = (
            "<div class='card'><div class='card-body'><h5 class='card-title'>Orders</h5></div></div>"
            f"<a class='card-link' href='{state.tms_origin}/sso?token={handoff}'{target}>"
            "<div class='card'><div class='card-body'><h5 class='card-title'>Daily Operations Tracker</h5>"
            "<p>MIS dashboards and exports</p></div></div></a>"
        )
        return HTMLResponse(_page("Home", f"<h2>Welcome {state.username}</h2>{cards}"))

    async def admin_state(request: Request) -> Response:
        return JSONResponse(state.snapshot())

    async def admin_faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
            return JSONResponse({"faults": []})
        try:
            payload = json.loads(await request.body() or b"{}")
            specs = payload.get("faults") or [payload.get("spec")]
            added = [state.faults.add(str(spec)).as_dict() for spec in specs if spec]
        except (FaultSpecError, ValueError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"added": added, "faults": state.faults.list()})

    async def admin_expire(request: Request) -> Response:
        state.expire(request.query_params.get("scope", "tms"))
        return JSONResponse({"expired": request.query_params.get("scope", "tms")})

    async def admin_config(request: Request) -> Response:
        try:
            payload = json.loads(await request.body() or b"{}")
            with state.lock:
                if "date" in payload:
                    state.dashboard_date = date.fromisoformat(payload["date"])
                if "seed" in payload:
                    state.seed = int(payload["seed"])
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(state.snapshot())

    return Starlette(
        routes=[
            Route("/home/login", _with_faults(state, "login", login_get), methods=["GET"]),
            Route("/home/login", _with_faults(state, "login", login_post), methods=["POST"]),
            Route("/home/otp", otp, methods=["GET", "POST"]),
            Route("/home", _with_faults(state, "home", home)),
            Route("/", lambda r: RedirectResponse("/home", status_code=302)),
            Route("/__sandbox/state", _control(state, admin_state)),
            Route("/__sandbox/faults", _control(state, admin_faults), methods=["POST", "DELETE"]),
            Route("/__sandbox/expire", _control(state, admin_expire), methods=["POST"]),
            Route("/__sandbox/config", _control(state, admin_config), methods=["POST"]),
        ]
    )


def _otp_form() -> str:
    return (
        "<form method='post' action='/home/otp'><input type='text' name='otp' placeholder='OTP'>"
        "<button type='submit'>Verify</button></form>"
    )


def tms_app(state: SandboxState) -> Starlette:
    def authed(request: Request) -> bool:
        return _has(state, state.tms_sessions, request.cookies.get(TMS_COOKIE))

    def gate(request: Request, endpoint: str) -> Response | None:
        """The notice when the TMS session is missing, expired or a fault says so."""
        store = _store_of(request)
        expire = state.faults.take("expire", store, endpoint)
        if expire:
            state.expire(expire.value or "tms")
        if expire or not authed(request) or state.faults.take("logged_out", store, endpoint):
            state.count(f"notice:{endpoint}")
            return HTMLResponse(_notice_page())
        return None

    async def sso(request: Request) -> Response:
        handoff = request.query_params.get("token", "")
        with state.lock:
            portal_session = state.handoff_tokens.pop(handoff, None)
            valid = portal_session is not None and portal_session in state.portal_sessions
        if not valid:
            return HTMLResponse(_notice_page())
        session = secrets.token_urlsafe(24)
        with state.lock:
            state.tms_sessions.add(session)
        state.count("tms_handoff")
        response = RedirectResponse(f"/mis/partner_dashboard?store_code={state.username}", status_code=302)
        response.set_cookie(TMS_COOKIE, session, httponly=True, samesite="lax")
        return response

    async def dashboard(request: Request) -> Response:
        if (blocked := gate(request, "dashboard")) is not None:
            return blocked
        store = _store_of(request)
        if store is None:
            return HTMLResponse(_page("Not found", "<h1>Store not found</h1>"), status_code=404)
        return HTMLResponse(
            _dashboard_page(state, store, lambda name: state.faults.take(name, store, "dashboard"))
        )

    def csv_endpoint_of(request: Request) -> str:
        kind = request.query_params.get("type")
        for key, (path, type_value, _stem) in CSV_ENDPOINTS.items():
            if path == request.url.path and (type_value is None or type_value == kind):
                return key
        return "unknown_csv"

    async def csv_download(request: Request) -> Response:
        key = csv_endpoint_of(request)
        if (blocked := gate(request, key)) is not None:
            return blocked
        store = _store_of(request)
        if store is None or key == "unknown_csv":
            return Response("bad request", status_code=400, media_type="text/plain")
        day = data.store_day(store, state.dashboard_date, state.seed)
        body = _csv_body(key, day, lambda name: state.faults.take(name, store, key), state.rows)
        stem = CSV_ENDPOINTS[key][2]
        suggested = f"{stem}_{store}_{state.dashboard_date:%Y%m%d}.csv"
        if state.faults.take("evil_filename", store, key):
            suggested = f"../../../../tmp/{suggested}"
        state.count(f"csv:{key}")
        disposition = f"attachment; filename=\"{suggested}\"; filename*=UTF-8''{quote(suggested)}"
        headers = {"Content-Disposition": disposition}
        large = _large_response(body, lambda name: state.faults.take(name, store, key), headers)
        return large or Response(body, media_type="text/csv", headers=headers)

    async def anything(request: Request) -> Response:
        if (blocked := gate(request, "other")) is not None:
            return blocked
        return HTMLResponse(_page("Overview", "<h1>Overview</h1>"))

    csv_routes = sorted({path for path, _t, _s in CSV_ENDPOINTS.values()})
    return Starlette(
        routes=[
            Route("/sso", _with_faults(state, "tracker", sso)),
            Route("/mis/partner_dashboard", _with_faults(state, "dashboard", dashboard)),
            *(Route(path, _with_faults(state, csv_endpoint_of, csv_download)) for path in csv_routes),
            Route("/{path:path}", anything),
        ]
    )
