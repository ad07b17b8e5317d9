//! Deconfliction as a result (issue 17), over real HTTP on SQLite and PostgreSQL: two
//! units holding the same screen name learn of each other without seeing it; a
//! CyberTip filed by two units keeps both cases open; identifiers are normalised before
//! they are keyed-hashed; a value of another kind does not match; bad input is refused
//! with a pointer and records nothing; the Task Force sees every match.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{form, start, Server, HARTFORD, NEW_HAVEN};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

/// A New Haven unit reporter's token (the harness binds unit tokens to Hartford).
async fn new_haven_token(s: &Server) -> String {
    s.state
        .tokens
        .issue(
            Role::UnitReporter,
            Some(NEW_HAVEN.parse().expect("ori")),
            "new haven reporter",
            "test",
        )
        .await
        .expect("issue")
        .token
}

async fn call(s: &Server, token: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let req = match &body {
        Some(b) => s.client.post(s.url(path)).json(b),
        None => s.client.get(s.url(path)),
    };
    let r = req.bearer_auth(token).send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

fn with_subjects(mut f: Value, subjects: Value) -> Value {
    f["subject_identifiers"] = subjects;
    f
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Everything the second unit is answered must hold none of the first unit's case.
fn assert_reveals_nothing(text: &str, secrets: &[&str]) {
    let lower = text.to_lowercase();
    for s in secrets {
        assert!(
            !lower.contains(&s.to_lowercase()),
            "answer reveals {s:?}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_units_holding_the_same_screen_name_learn_of_each_other_without_seeing_it() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let hartford = s.tokens[&Role::UnitReporter].clone();
        let new_haven = new_haven_token(&s).await;

        let h_form = with_subjects(
            form(HARTFORD, "HPD-2026-0417", "700100200"),
            json!([{ "kind": "screen_name", "value": "Shadow_Fox_77", "platform": "Example Messenger" }]),
        );
        let (st, body) = call(&s, &hartford, "/v1/notifications", Some(h_form)).await;
        assert_eq!(st, 201, "{body}");
        let h_case = parse(&body)["case_id"]
            .as_str()
            .expect("case id")
            .to_string();
        assert_eq!(parse(&body)["deconfliction"], json!([]), "{body}");

        // Same screen name, other case and white space: normalised, it matches.
        let nh_form = with_subjects(
            form(NEW_HAVEN, "NHPD-26-88", "700100300"),
            json!([{ "kind": "screen_name", "value": "  SHADOW_fox_77  ", "platform": "Other App" }]),
        );
        let (st, body) = call(&s, &new_haven, "/v1/notifications", Some(nh_form)).await;
        assert_eq!(st, 201, "{body}");
        let secrets = [
            h_case.as_str(),
            "HPD-2026-0417",
            "shadow_fox_77",
            "700100200",
        ];
        assert_reveals_nothing(&body, &secrets);
        let answer = parse(&body);
        assert_eq!(answer["outcome"], "filed");
        let nh_case = answer["case_id"].as_str().expect("case id").to_string();
        assert_eq!(
            answer["deconfliction"],
            json!([{
                "basis": "screen_name",
                "contact_unit": HARTFORD,
                "contact_unit_name": "Hartford Police Department",
                "recorded_at": answer["deconfliction"][0]["recorded_at"],
            }]),
            "{body}"
        );

        // New Haven sees the match on its case, still without Hartford's case...
        let (st, body) = call(
            &s,
            &new_haven,
            &format!("/v1/cases/{nh_case}/deconfliction"),
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_reveals_nothing(&body, &secrets);
        assert_eq!(parse(&body)["matches"][0]["contact_unit"], HARTFORD);
        let (st, body) = call(&s, &new_haven, &format!("/v1/cases/{nh_case}"), None).await;
        assert_eq!(st, 200, "{body}");
        assert_reveals_nothing(&body, &secrets);
        // ...and cannot open it.
        let (st, _) = call(&s, &new_haven, &format!("/v1/cases/{h_case}"), None).await;
        assert_eq!(st, 404);
        let (st, _) = call(
            &s,
            &new_haven,
            &format!("/v1/cases/{h_case}/deconfliction"),
            None,
        )
        .await;
        assert_eq!(st, 404);
        let (st, _) = call(&s, &new_haven, "/v1/deconfliction/matches", None).await;
        assert_eq!(st, 403, "units do not read the Task Force's match list");

        // Hartford is told whom to call, too, without New Haven's case.
        let (st, body) = call(
            &s,
            &hartford,
            &format!("/v1/cases/{h_case}/deconfliction"),
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_reveals_nothing(&body, &[nh_case.as_str(), "NHPD-26-88"]);
        let m = parse(&body);
        assert_eq!(m["matches"][0]["contact_unit"], NEW_HAVEN, "{body}");
        assert_eq!(
            m["matches"][0]["contact_unit_name"],
            "New Haven Police Department"
        );

        // The Task Force sees the DeconflictionMatch with both cases.
        let (st, all) = s.get(Role::Supervisor, "/v1/deconfliction/matches").await;
        assert_eq!(st, 200, "{all}");
        assert_eq!(all["total"], 1, "{all}");
        assert_eq!(all["matches"][0]["case_id"], json!(nh_case));
        assert_eq!(all["matches"][0]["other_case_id"], json!(h_case));
        assert_eq!(all["matches"][0]["basis"], "screen_name");
        let (st, _) = s.get(Role::Investigator, "/v1/deconfliction/matches").await;
        assert_eq!(st, 200);

        // In the chain: a DeconflictionMatch; the screen name nowhere in clear.
        let rows = s
            .state
            .ledger
            .storage()
            .read_page(s.state.ledger.id(), 1, 10_000)
            .await
            .expect("rows");
        assert!(rows.iter().any(|r| r.event_type == "DeconflictionMatch"));
        for r in &rows {
            let canonical = String::from_utf8_lossy(&r.canonical).to_lowercase();
            assert!(!canonical.contains("shadow_fox_77"), "{canonical}");
        }
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cybertip_filed_by_two_units_keeps_both_cases_open() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let hartford = s.tokens[&Role::UnitReporter].clone();
        let new_haven = new_haven_token(&s).await;
        let tip = "700200100";
        let h = with_subjects(form(HARTFORD, "HART-1", tip), json!([]));
        let (st, body) = call(&s, &hartford, "/v1/notifications", Some(h)).await;
        assert_eq!(st, 201, "{body}");
        let h_case = parse(&body)["case_id"].as_str().expect("id").to_string();
        let mut nh = with_subjects(form(NEW_HAVEN, "NHPD-1", tip), json!([]));
        // Not checked: accepted, and on the Task Force's follow-up list.
        nh["deconfliction_checked"] = json!(false);
        let (st, body) = call(&s, &new_haven, "/v1/notifications", Some(nh)).await;
        assert_eq!(st, 201, "{body}");
        assert_reveals_nothing(&body, &[h_case.as_str(), "HART-1"]);
        let answer = parse(&body);
        assert_eq!(answer["outcome"], "filed", "{body}");
        assert_eq!(
            answer["deconfliction"][0]["basis"], "cybertip_number",
            "{body}"
        );
        assert_eq!(answer["deconfliction"][0]["contact_unit"], HARTFORD);
        let nh_case = answer["case_id"].as_str().expect("id").to_string();
        assert_ne!(nh_case, h_case);

        // Both cases are open with their own notification, neither merged.
        for case in [&h_case, &nh_case] {
            let (st, view) = s.get(Role::Supervisor, &format!("/v1/cases/{case}")).await;
            assert_eq!(st, 200, "{view}");
            assert!(view.get("merged_into").is_none(), "{view}");
            assert!(view["notification"].is_object(), "{view}");
            assert_ne!(view["status"], "closed", "{view}");
            assert!(
                view["linked_notifications"]
                    .as_array()
                    .is_some_and(std::vec::Vec::is_empty),
                "{view}"
            );
        }
        let (_, all) = s.get(Role::Supervisor, "/v1/deconfliction/matches").await;
        assert_eq!(all["total"], 1, "{all}");
        assert_eq!(all["matches"][0]["basis"], "cybertip_number");
        let (st, unchecked) = s.get(Role::Supervisor, "/v1/deconfliction/unchecked").await;
        assert_eq!(st, 200, "{unchecked}");
        assert_eq!(unchecked["total"], 1, "{unchecked}");
        assert_eq!(unchecked["cases"][0]["case_id"], json!(nh_case));
        assert_eq!(unchecked["cases"][0]["unit"], NEW_HAVEN);
        let (st, _) = call(&s, &new_haven, "/v1/deconfliction/unchecked", None).await;
        assert_eq!(st, 403);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kinds_stay_apart_and_bad_input_records_nothing() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let hartford = s.tokens[&Role::UnitReporter].clone();
        let new_haven = new_haven_token(&s).await;
        // A screen name that reads like an e-mail address...
        let h = with_subjects(
            form(HARTFORD, "HPD-9", "700300100"),
            json!([{ "kind": "screen_name", "value": "same@example.org" },
                   { "kind": "ip_event", "value": "::ffff:198.51.100.7", "observed_at": "2026-01-02T03:04:05Z" }]),
        );
        let (st, body) = call(&s, &hartford, "/v1/notifications", Some(h)).await;
        assert_eq!(st, 201, "{body}");
        // ...is not the e-mail address: an identifier matches one of its own kind only.
        // The IP address matches in its canonical text (IPv4-mapped IPv6 is IPv4).
        let nh = with_subjects(
            form(NEW_HAVEN, "NHPD-9", "700300200"),
            json!([{ "kind": "email_address", "value": "Same@Example.org" },
                   { "kind": "ip_event", "value": "198.51.100.7", "observed_at": "2026-01-03T03:04:05Z" }]),
        );
        let (st, body) = call(&s, &new_haven, "/v1/notifications", Some(nh)).await;
        assert_eq!(st, 201, "{body}");
        let answer = parse(&body);
        let bases: Vec<&str> = answer["deconfliction"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|m| m["basis"].as_str())
            .collect();
        assert_eq!(bases, vec!["ip_address"], "{body}");

        // Bad input: a pointer per problem, and nothing recorded.
        let before = s.head().await;
        let bad = with_subjects(
            form(NEW_HAVEN, "NHPD-10", "700300300"),
            json!([{ "kind": "ip_event", "value": "999.1.1.1", "observed_at": "2026-01-03T03:04:05Z" },
                   { "kind": "email_address", "value": "not-an-address" },
                   { "kind": "nickname", "value": "x" }]),
        );
        let (st, body) = call(&s, &new_haven, "/v1/notifications", Some(bad)).await;
        assert_eq!(st, 422, "{body}");
        let pointers: Vec<String> = parse(&body)["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["pointer"].as_str().map(str::to_string))
            .collect();
        for p in [
            "/subject_identifiers/0/value",
            "/subject_identifiers/1/value",
            "/subject_identifiers/2/kind",
        ] {
            assert!(pointers.iter().any(|x| x == p), "{p} missing: {body}");
        }
        assert_eq!(
            s.head().await,
            before,
            "a refused filing recorded something"
        );
        let (_, all) = s.get(Role::Supervisor, "/v1/deconfliction/matches").await;
        assert_eq!(all["total"], 1, "{all}");
        s.stop().await;
    }
}

/// The crash test's load, concentrated: many filings at once that all hold one screen
/// name, from both units, through the server and through a second writer on the same
/// database (as a CLI import beside the server). Every filing succeeds (no stream is
/// contended by more than two filings, and that once), both units learn of each
/// other on every case, and the pair is matched exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_filings_of_one_screen_name_all_succeed_and_every_case_learns_of_the_other_unit(
) {
    use icac_format::keys::LedgerKey;
    use icac_ledger::commands::{filing, Actor, Commands};
    use icac_ledger::ledger::Ledger;

    const PER_WRITER: usize = 12;
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let hartford = s.tokens[&Role::UnitReporter].clone();
        let new_haven = new_haven_token(&s).await;
        let signing = s.state.ledger.signing_key();
        let second_ledger = Ledger::open(
            s.db.storage().await,
            common::ledger_id(),
            LedgerKey::from_signing_key(signing.signing_key().clone()),
        )
        .await
        .expect("second writer");
        let second = std::sync::Arc::new(
            Commands::open_with_deconfliction_key(
                second_ledger.clone(),
                s.state.commands.deconfliction_key().clone(),
            )
            .await
            .expect("commands"),
        );

        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..PER_WRITER {
            for (unit, token, prefix) in
                [(HARTFORD, &hartford, "HC"), (NEW_HAVEN, &new_haven, "NC")]
            {
                let (client, url, token) =
                    (s.client.clone(), s.url("/v1/notifications"), token.clone());
                let body = form(
                    unit,
                    &format!("{prefix}-{i}"),
                    &format!("71{i:02}{}", if unit == HARTFORD { "1001" } else { "2002" }),
                );
                tasks.spawn(async move {
                    let r = client
                        .post(url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await
                        .expect("send");
                    let status = r.status().as_u16();
                    let text = r.text().await.expect("body");
                    (status, text)
                });
            }
            for (unit, prefix) in [(HARTFORD, "HX"), (NEW_HAVEN, "NX")] {
                let commands = second.clone();
                let body = form(
                    unit,
                    &format!("{prefix}-{i}"),
                    &format!("72{i:02}{}", if unit == HARTFORD { "3003" } else { "4004" }),
                );
                tasks.spawn(async move {
                    let actor = Actor::system("test:second-writer", format!("second-{unit}-{i}"));
                    match filing::file_notification(
                        &commands,
                        &body,
                        &actor,
                        jiff::Timestamp::now(),
                    )
                    .await
                    {
                        Ok(receipt) => (201, serde_json::to_string(&receipt).expect("json")),
                        Err(e) => (500, e.to_string()),
                    }
                });
            }
        }
        let mut cases = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (status, body) = done.expect("task");
            assert_eq!(status, 201, "{kind:?}: a filing failed: {body}");
            cases.push(
                parse(&body)["case_id"]
                    .as_str()
                    .expect("case id")
                    .to_string(),
            );
        }
        assert_eq!(cases.len(), 4 * PER_WRITER);

        for case in &cases {
            let (st, body) = s
                .get(Role::Supervisor, &format!("/v1/cases/{case}/deconfliction"))
                .await;
            assert_eq!(st, 200, "{body}");
            let own = &case[..9];
            let other = if own == HARTFORD { NEW_HAVEN } else { HARTFORD };
            let contacts: Vec<&str> = body["matches"]
                .as_array()
                .expect("matches")
                .iter()
                .filter_map(|m| m["contact_unit"].as_str())
                .collect();
            assert_eq!(contacts, vec![other], "{kind:?}: {case}: {body}");
        }
        let (_, all) = s.get(Role::Supervisor, "/v1/deconfliction/matches").await;
        assert_eq!(
            all["total"], 1,
            "{kind:?}: one match per pair of units and value: {all}"
        );
        assert_eq!(all["matches"][0]["basis"], "screen_name");

        // The second writer's index sees the same, once it reads the ledger.
        second
            .matches()
            .catch_up(second.ledger())
            .await
            .expect("catch up");
        assert_eq!(second.matches().all().len(), 1);
        let rows = s
            .state
            .ledger
            .storage()
            .read_page(s.state.ledger.id(), 1, 100_000)
            .await
            .expect("rows");
        let count = |t: &str| rows.iter().filter(|r| r.event_type == t).count();
        assert_eq!(count("FingerprintsRegistered"), 4 * PER_WRITER);
        assert_eq!(count("DeconflictionMatch"), 1);
        drop(second);
        second_ledger.shutdown().await;
        s.stop().await;
    }
}

/// A process that stopped between a case's filing and its registration (the two are on
/// different streams) leaves the case unregistered; the start-up reconciliation
/// registers it from its form and records the match the other unit's filing missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_filed_without_its_registration_is_registered_and_matched_by_reconciliation() {
    use icac_aggregates::case::{CaseCommand, FileNotification};
    use icac_aggregates::catalog::Catalog;
    use icac_aggregates::form::{parse_and_validate, ValidationContext};
    use icac_aggregates::ids::CaseId;
    use icac_ledger::commands::{deconfliction, Actor};

    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let new_haven = new_haven_token(&s).await;
        let commands = &s.state.commands;
        let now = jiff::Timestamp::now();
        let raw = with_subjects(
            form(HARTFORD, "HPD-STOPPED-1", "700900100"),
            json!([{ "kind": "screen_name", "value": "Lost_Handle" }]),
        );
        let ctx = ValidationContext {
            recorded_at: now,
            units: commands.directory().as_ref(),
            catalog: Catalog::builtin().expect("catalog"),
        };
        let parsed = parse_and_validate(&raw, &ctx).expect("valid form");
        let h_case = CaseId::parse(format!("{HARTFORD}:HPD-STOPPED-1")).expect("id");
        // The case's own commit only: the process stops before it registers.
        let actor = Actor::system("test:stopped-filing", "stopped-1");
        commands
            .execute_case(
                &h_case,
                CaseCommand::FileNotification(FileNotification {
                    case_id: h_case.clone(),
                    form: parsed,
                    recorded_at: now,
                }),
                &actor,
            )
            .await
            .expect("file");

        let nh = with_subjects(
            form(NEW_HAVEN, "NHPD-77", "700900200"),
            json!([{ "kind": "screen_name", "value": "lost_handle" }]),
        );
        let (st, body) = call(&s, &new_haven, "/v1/notifications", Some(nh)).await;
        assert_eq!(st, 201, "{body}");
        assert_eq!(
            parse(&body)["deconfliction"],
            json!([]),
            "Hartford is not registered yet"
        );
        let nh_case = parse(&body)["case_id"].as_str().expect("id").to_string();

        let actor = Actor::system("deconfliction:reconcile", "test-reconcile");
        let done = deconfliction::reconcile(commands, &actor)
            .await
            .expect("reconcile");
        let rows = s
            .state
            .ledger
            .storage()
            .read_page(s.state.ledger.id(), 1, 10_000)
            .await
            .expect("rows");
        let regs: Vec<String> = rows
            .iter()
            .filter(|r| r.event_type == "FingerprintsRegistered")
            .map(|r| String::from_utf8_lossy(&r.canonical).to_string())
            .collect();
        assert_eq!(
            (done.registered, done.matches),
            (1, 1),
            "{kind:?}: {done:?} {regs:#?}"
        );
        let (_, body) = call(
            &s,
            &new_haven,
            &format!("/v1/cases/{nh_case}/deconfliction"),
            None,
        )
        .await;
        assert_eq!(
            parse(&body)["matches"][0]["contact_unit"],
            HARTFORD,
            "{body}"
        );
        let (_, view) = s
            .get(
                Role::Supervisor,
                &format!("/v1/cases/{h_case}/deconfliction"),
            )
            .await;
        assert_eq!(view["matches"][0]["contact_unit"], NEW_HAVEN, "{view}");
        // Nothing left to do: a second pass records nothing.
        let before = s.head().await;
        let again = deconfliction::reconcile(commands, &actor)
            .await
            .expect("again");
        assert_eq!((again.registered, again.matches), (0, 0));
        assert_eq!(s.head().await, before);
        s.stop().await;
    }
}

/// `deconfliction_checked: false` stays on the Task Force's list until it records its
/// follow-up; bad follow-ups are refused with a pointer and record nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_not_checked_stays_on_the_follow_up_list_until_the_task_force_follows_it_up() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let hartford = s.tokens[&Role::UnitReporter].clone();
        let mut unchecked = form(HARTFORD, "HPD-UC-1", "700950100");
        unchecked["deconfliction_checked"] = json!(false);
        let (st, body) = call(&s, &hartford, "/v1/notifications", Some(unchecked)).await;
        assert_eq!(st, 201, "{body}");
        let case = parse(&body)["case_id"].as_str().expect("id").to_string();
        let (st, checked) = call(
            &s,
            &hartford,
            "/v1/notifications",
            Some(form(HARTFORD, "HPD-UC-2", "700950200")),
        )
        .await;
        assert_eq!(st, 201, "{checked}");
        let checked_case = parse(&checked)["case_id"].as_str().expect("id").to_string();

        let (_, list) = s.get(Role::Supervisor, "/v1/deconfliction/unchecked").await;
        assert_eq!(list["total"], 1, "{list}");
        assert_eq!(list["cases"][0]["case_id"], json!(case));
        assert_eq!(list["cases"][0]["units_matched"], 0);
        assert!(list["cases"][0]["follow_up"].is_null(), "{list}");

        let supervisor = s.tokens[&Role::Supervisor].clone();
        let path = |c: &str| format!("/v1/deconfliction/unchecked/{c}/follow-up");
        let before = s.head().await;
        for (target, body, pointer) in [
            (
                &checked_case,
                json!({ "outcome": "task_force_found_none" }),
                "/case_id",
            ),
            (&case, json!({ "outcome": "looked_around" }), "/outcome"),
            (
                &case,
                json!({ "outcome": "task_force_found_none", "note": "x" }),
                "",
            ),
        ] {
            let (st, answer) = call(&s, &supervisor, &path(target), Some(body)).await;
            assert!((400..500).contains(&st), "{kind:?}: {answer}");
            if !pointer.is_empty() {
                assert!(answer.contains(pointer), "{kind:?}: {answer}");
            }
        }
        assert_eq!(
            s.head().await,
            before,
            "a refused follow-up recorded something"
        );
        let (st, _) = call(
            &s,
            &hartford,
            &path(&case),
            Some(json!({ "outcome": "task_force_found_none" })),
        )
        .await;
        assert_eq!(st, 403, "a unit does not follow up its own case");

        let (st, answer) = call(
            &s,
            &supervisor,
            &path(&case),
            Some(json!({ "outcome": "other_agency_contacted" })),
        )
        .await;
        assert_eq!(st, 201, "{answer}");
        let (st, answer) = call(
            &s,
            &supervisor,
            &path(&case),
            Some(json!({ "outcome": "other_agency_contacted" })),
        )
        .await;
        assert_eq!(st, 422, "followed up twice: {answer}");
        assert!(answer.contains("/case_id"), "{answer}");

        let (_, open) = s.get(Role::Supervisor, "/v1/deconfliction/unchecked").await;
        assert_eq!(open["total"], 0, "{open}");
        let (_, all) = s
            .get(
                Role::Supervisor,
                "/v1/deconfliction/unchecked?include_followed_up=true",
            )
            .await;
        assert_eq!(all["total"], 1, "{all}");
        assert_eq!(
            all["cases"][0]["follow_up"]["outcome"],
            "other_agency_contacted"
        );
        s.stop().await;
    }
}
