//! Issue 14, "hostile clients": each failure seen when the service was tried as an
//! attacker would, rerun against a real server on loopback (SQLite and PostgreSQL where
//! the storage matters). The flood of 100,000 addresses at full size is
//! `full_size_address_flood` (ignored by default; `scripts/hostile-clients.sh` runs it).

use crate::support::{common, http_support};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{Kind, TestDb, KINDS};
use http_support::{
    cookie_value, form, hidden_csrf, set_cookies, sign_in, start, Server, HARTFORD,
};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn addr_of(s: &Server) -> SocketAddr {
    s.base
        .trim_start_matches("http://")
        .parse()
        .expect("server address")
}

/// Sends `request` as raw bytes from `from` (any 127/8 address) and reads the answer.
async fn raw_from(server: SocketAddr, from: Option<IpAddr>, request: &[u8]) -> String {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0)).expect("bind source");
    }
    let mut stream = socket.connect(server).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn body_of(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn invalid_report() -> &'static [u8] {
    b"POST /report HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\nConnection: close\r\n\r\nwebsite="
}

/// The `n`th distinct loopback address other than 127.0.0.1.
fn loopback(n: u32) -> IpAddr {
    let n = n + 2;
    IpAddr::V4(Ipv4Addr::new(
        127,
        (n >> 16) as u8 + 1,
        (n >> 8) as u8,
        n as u8,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hypers_own_errors_are_problem_json() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let addr = addr_of(&s);
    // A header section larger than the read buffer: hyper answers 431 itself.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw_from(addr, None, big.as_bytes()).await;
    assert_eq!(
        status_of(&answer),
        431,
        "{}",
        &answer[..answer.len().min(300)]
    );
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert_eq!(body_of(&answer)["status"], json!(431), "{answer}");
    // A malformed request line: hyper's 400.
    let answer = raw_from(addr, None, b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert_eq!(body_of(&answer)["status"], json!(400), "{answer}");
    // A request target too long: 414, as problem+json.
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(9000)
    );
    let answer = raw_from(addr, None, long.as_bytes()).await;
    assert_eq!(status_of(&answer), 414, "{answer}");
    assert_eq!(body_of(&answer)["status"], json!(414), "{answer}");
    // A header that never finishes: the connection is closed after the header-read timeout.
    let mut config = ServerConfig::default();
    config.limits.header_read_timeout = Duration::from_secs(1);
    let slow = start(TestDb::new(Kind::Sqlite).await, config).await;
    let mut stream = tokio::net::TcpStream::connect(addr_of(&slow))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "a half-sent header kept the connection open"
    );
    slow.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_flood_forgets_but_never_locks_out_a_new_visitor() {
    let config = ServerConfig {
        public_limiter_capacity: 1_000,
        ..ServerConfig::default()
    };
    let s = start(TestDb::new(Kind::Sqlite).await, config).await;
    let addr = addr_of(&s);
    flood(addr, 3_000).await;
    assert!(s.state.public_limiter.remembered() <= 1_000);
    // A visitor the limiter has never seen is served.
    let answer = raw_from(
        addr,
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        invalid_report(),
    )
    .await;
    assert_eq!(status_of(&answer), 422, "{answer}");
    s.stop().await;
}

/// `n` invalid public reports, each from its own loopback address, 32 at a time.
async fn flood(addr: SocketAddr, n: u32) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let answer = raw_from(addr, Some(loopback(i)), invalid_report()).await;
                assert_eq!(status_of(&answer), 422, "flood {i}: {answer}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("flood task");
    }
}

/// The flood as issue 14 ran it: 100,000 distinct addresses, default configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "slow (100,000 requests); run by scripts/hostile-clients.sh"]
async fn full_size_address_flood() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let addr = addr_of(&s);
    flood(addr, 100_000).await;
    let answer = raw_from(
        addr,
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        invalid_report(),
    )
    .await;
    assert_eq!(
        status_of(&answer),
        422,
        "a new visitor was refused: {answer}"
    );
    s.stop().await;
}

async fn whoami(s: &Server, token: &str, forwarded_for: Option<&str>) -> u16 {
    let mut r = s.client.get(s.url("/v1/whoami")).bearer_auth(token);
    if let Some(f) = forwarded_for {
        r = r.header("x-forwarded-for", f);
    }
    r.send().await.expect("send").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_is_per_address_and_token_id_and_spares_valid_tokens() {
    for kind in KINDS {
        let config = ServerConfig {
            trusted_proxies: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            ..ServerConfig::default()
        };
        let s = start(TestDb::new(kind).await, config).await;
        let valid = s.tokens[&Role::Investigator].clone();
        // Five bad tokens from one (forwarded) address, then a valid one from it.
        for i in 0..5 {
            let st = whoami(&s, &format!("icac_0{i}_bad"), Some("198.51.100.1")).await;
            assert!(st == 401 || (i == 4 && st == 429), "{kind:?} {i}: {st}");
        }
        assert_eq!(whoami(&s, "icac_09_bad", Some("198.51.100.1")).await, 429);
        assert_eq!(
            whoami(&s, &valid, Some("198.51.100.1")).await,
            200,
            "{kind:?}: a valid token was locked out by others' failures"
        );
        // Another client behind the same proxy is not locked out.
        assert_eq!(whoami(&s, "icac_0a_bad", Some("198.51.100.2")).await, 401);
        // Guesses at one token id from many addresses lock that id (for invalid
        // attempts), and its holder still signs in.
        let id = valid.split('_').nth(1).unwrap().to_owned();
        for i in 0..5 {
            let st = whoami(
                &s,
                &format!("icac_{id}_guess{i}"),
                Some(&format!("203.0.113.{i}")),
            )
            .await;
            assert!(
                st == 401 || (i == 4 && st == 429),
                "{kind:?} guess {i}: {st}"
            );
        }
        assert_eq!(
            whoami(&s, &format!("icac_{id}_guess9"), Some("203.0.113.99")).await,
            429,
            "{kind:?}: the token id was not locked"
        );
        assert_eq!(whoami(&s, &valid, Some("203.0.113.99")).await, 200);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_count_only_from_a_trusted_proxy() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    // No proxy configured: every forged X-Forwarded-For is the same (loopback) client.
    for i in 0..5 {
        whoami(&s, &format!("icac_0{i}_bad"), Some(&format!("192.0.2.{i}"))).await;
    }
    assert_eq!(whoami(&s, "icac_0f_bad", Some("192.0.2.200")).await, 429);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sessions_are_random_revocable_and_forms_refuse_cross_site_posts() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let token = s.tokens[&Role::Supervisor].clone();
        let page = s.client.get(s.url("/staff/login")).send().await.unwrap();
        let login_cookie = cookie_value(&set_cookies(&page), "icac_login_csrf").unwrap();
        let csrf = hidden_csrf(&page.text().await.unwrap());
        // A cross-origin login post is refused, even with the right form token.
        let r = s
            .client
            .post(s.url("/staff/login"))
            .header("cookie", format!("icac_login_csrf={login_cookie}"))
            .header("origin", "https://evil.example")
            .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{kind:?}");
        assert!(cookie_value(&set_cookies(&r), "icac_session").is_none());
        let r = s
            .client
            .post(s.url("/staff/login"))
            .header("sec-fetch-site", "cross-site")
            .header("cookie", format!("icac_login_csrf={login_cookie}"))
            .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{kind:?}");
        // Without the form token (no browser headers at all): refused too.
        let r = s
            .client
            .post(s.url("/staff/login"))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{kind:?}");

        // A proper sign-in: the cookie is a random session id, not the token.
        let page = s.client.get(s.url("/staff/login")).send().await.unwrap();
        let login_cookie = cookie_value(&set_cookies(&page), "icac_login_csrf").unwrap();
        let csrf = hidden_csrf(&page.text().await.unwrap());
        let r = s
            .client
            .post(s.url("/staff/login"))
            .header("cookie", format!("icac_login_csrf={login_cookie}"))
            .header("origin", &s.base)
            .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookies = set_cookies(&r);
        let line = cookies
            .iter()
            .find(|c| c.starts_with("icac_session="))
            .unwrap();
        assert!(
            line.contains("HttpOnly") && line.contains("SameSite=Strict"),
            "{line}"
        );
        assert!(
            !line.contains("Secure"),
            "Secure without TLS configured: {line}"
        );
        let session = cookie_value(&cookies, "icac_session").unwrap();
        assert_eq!(session.len(), 64, "{session}");
        assert!(!token.contains(&session) && !session.contains(token.split('_').nth(2).unwrap()));
        let (session2, _) = sign_in(&s, &token).await;
        assert_ne!(session, session2, "session ids repeat");

        let get_dash = |c: String| {
            let s = &s;
            async move {
                s.client
                    .get(s.url("/staff"))
                    .header("cookie", format!("icac_session={c}"))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let dash = get_dash(session.clone()).await;
        assert_eq!(dash.status(), 200);
        let page_csrf = hidden_csrf(&dash.text().await.unwrap());
        // The raw token as a cookie (the old scheme) signs no one in.
        assert_eq!(get_dash(token.clone()).await.status(), 303);
        // Logout needs the session's CSRF token...
        let r = s
            .client
            .post(s.url("/staff/logout"))
            .header("cookie", format!("icac_session={session}"))
            .form(&[("csrf", "0".repeat(64).as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(get_dash(session.clone()).await.status(), 200);
        // ...and then ends the session on the server: a kept copy of the cookie is dead.
        let r = s
            .client
            .post(s.url("/staff/logout"))
            .header("cookie", format!("icac_session={session}"))
            .form(&[("csrf", page_csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(
            get_dash(session.clone()).await.status(),
            303,
            "{kind:?}: logout did not revoke"
        );
        assert_eq!(get_dash(session2.clone()).await.status(), 200);
        s.stop().await;
    }
    // Behind TLS (configured): the cookie is Secure.
    let s = start(
        TestDb::new(Kind::Sqlite).await,
        ServerConfig {
            secure_cookies: true,
            ..ServerConfig::default()
        },
    )
    .await;
    let page = s.client.get(s.url("/staff/login")).send().await.unwrap();
    assert!(set_cookies(&page).iter().all(|c| c.contains("; Secure")));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_a_token_and_readyz_tells_nothing_more() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], json!(401));
    let r = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(&s.tokens[&Role::Supervisor])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("icac_compliance_notifications") && text.contains("icac_ledger_size"));
    let r = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(&s.tokens[&Role::Auditor])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("icac_compliance"));
    let r = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(&s.tokens[&Role::UnitReporter])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ready" }));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_exports_carry_no_formulas_no_raw_html_and_html_has_csp() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let markup = "<img src=x onerror=alert(1)>";
    for (ori, name) in [("CT0000111", formula), ("CT0000222", markup)] {
        let (st, b) = s
            .post(
                Role::Admin,
                "/v1/units",
                json!({ "ori": ori, "name": name, "kind": "municipal_police", "town": "Hartford" }),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let (st, b) = s
            .post(
                Role::Investigator,
                "/v1/notifications",
                form(ori, "26-1", &format!("9{}", &ori[6..])),
            )
            .await;
        assert_eq!(st, 201, "{b}");
    }
    let export = |format: &'static str| {
        let s = &s;
        async move {
            let r = s
                .client
                .get(s.url(&format!("/v1/reports/annual?format={format}")))
                .bearer_auth(&s.tokens[&Role::Supervisor])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{format}");
            let headers = r.headers().clone();
            (headers, r.text().await.unwrap())
        }
    };
    let (_, csv) = export("csv").await;
    assert!(
        csv.contains("HYPERLINK"),
        "the unit is not in the report: {csv}"
    );
    for line in csv.lines() {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '@']),
                "formula cell {cell:?} in {line:?}"
            );
        }
    }
    let (_, md) = export("md").await;
    assert!(md.contains("onerror"), "the unit is not in the report");
    assert!(!md.contains("<img"), "raw HTML in the Markdown: {md}");
    let (headers, html) = export("html").await;
    assert!(!html.contains("<img src=x"), "raw HTML in the HTML edition");
    assert!(headers.contains_key("content-security-policy"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    // Every HTML answer: pages, error pages, the staff download.
    for path in ["/", "/staff/login", "/staff/nope"] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        if r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
        {
            assert!(
                r.headers().contains_key("content-security-policy"),
                "{path}"
            );
        }
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    // The public form refuses a post another site's page makes.
    let before = s.head().await;
    let r = s
        .client
        .post(s.url("/report"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("category=other&good_faith=yes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.head().await, before);
    let (session, _) = sign_in(&s, &s.tokens[&Role::Supervisor]).await;
    let r = s
        .client
        .get(s.url("/staff/annual-report?format=html&download=1"))
        .header("cookie", format!("icac_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("content-security-policy"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_bidi_overrides_or_zero_width_characters_are_refused() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let before = s.head().await;
    for name in [
        "Hartford \u{202E}DP",
        "Hart\u{200B}ford PD",
        "\u{2066}Police\u{2069}",
    ] {
        let (st, b) = s
            .post(
                Role::Admin,
                "/v1/units",
                json!({ "ori": "CT0000333", "name": name, "kind": "municipal_police", "town": "Hartford" }),
            )
            .await;
        assert_eq!(st, 422, "{name:?}: {b}");
        assert_eq!(b["errors"][0]["pointer"], json!("/name"), "{b}");
        assert!(
            b["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("invisible"),
            "{b}"
        );
    }
    let (st, b) = s
        .post(Role::UnitReporter, "/v1/notifications", {
            let mut f = form(HARTFORD, "26-77", "777");
            f["officer"]["name"] = json!("Det. \u{202E}A. Rivera");
            f
        })
        .await;
    assert_eq!(st, 422, "{b}");
    assert!(b.to_string().contains("/officer/name"), "{b}");
    assert_eq!(s.head().await, before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_unit_case_numbers_are_distinct_cases() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let received = icac_aggregates::local_time::ct_date(jiff::Timestamp::now())
        .checked_sub(jiff::Span::new().days(3))
        .unwrap()
        .to_string();
    let complaint = |number: &str| json!({ "reporting_unit": HARTFORD, "unit_case_number": number, "received_on": received, "source": { "kind": "parent" } });
    let (st, a) = s
        .post(
            Role::UnitReporter,
            "/v1/complaints",
            complaint("COL/2026 7"),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    let (st, b) = s
        .post(
            Role::UnitReporter,
            "/v1/complaints",
            complaint("COL#2026_7"),
        )
        .await;
    assert_eq!(st, 201, "second complaint refused: {b}");
    assert_ne!(a["case_id"], b["case_id"]);
    // A notification for "CMP/9" does not complete the complaint logged as "CMP 9".
    let (st, c) = s
        .post(Role::UnitReporter, "/v1/complaints", complaint("CMP 9"))
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, n) = s
        .post(
            Role::UnitReporter,
            "/v1/notifications",
            form(HARTFORD, "CMP/9", "424242"),
        )
        .await;
    assert_eq!(st, 201, "{n}");
    assert_ne!(n["case_id"], c["case_id"], "{n} {c}");
    let case = c["case_id"].as_str().unwrap().to_owned();
    let (st, view) = s.get(Role::Supervisor, &format!("/v1/cases/{case}")).await;
    assert_eq!(st, 200, "{view}");
    assert!(
        view.to_string().contains("\"notification\":null")
            || view.get("notification").is_none_or(Value::is_null),
        "the complaint was completed by another case number's form: {view}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_beyond_any_position_is_422_on_both_stores() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, n) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "26-900", "900900"),
            )
            .await;
        assert_eq!(st, 201, "{n}");
        let case = n["case_id"].as_str().unwrap().to_owned();
        let before = s.head().await;
        for position in ["9223372036854775808", "18446744073709551615"] {
            let (st, b) = s
                .post(
                    Role::Investigator,
                    &format!("/v1/cases/{case}/corrections"),
                    json!({ "corrects": position, "changes": [ { "field": "medium", "medium": "chat_im" } ], "reason": "typo" }),
                )
                .await;
            assert_eq!(st, 422, "{kind:?} {position}: {b}");
            assert_eq!(b["status"], json!(422), "{b}");
        }
        assert_eq!(s.head().await, before);
        s.stop().await;
    }
}
