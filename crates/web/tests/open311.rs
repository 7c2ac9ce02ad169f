//! Open311 GeoReport v2 as a client sees it, byte for byte: discovery, the service list and a
//! service definition in XML and JSON, and the specification's errors with their statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{TestApp, spawn};

async fn get(t: &TestApp, uri: &str) -> (StatusCode, String, String) {
    let r = t
        .send(
            Request::get(uri)
                .header(header::HOST, "weige.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let content_type = r
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status, content_type, r.text())
}

const XML: &str = "text/xml; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const DECL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

#[tokio::test]
async fn discovery_in_both_formats() {
    let t = spawn().await;
    let (status, ct, body) = get(&t, "/open311/v2/discovery.json").await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, JSON));
    assert_eq!(
        body,
        r#"{"changeset":"2026-11-28T00:00:00+08:00","contact":"街道办事处网格管理中心 / the street office's grid centre","key_service":"API 密钥由街道管理员在 Weige 中创建（weige apikey create 或 /api/v1/apikeys） / API keys are issued by the street admin in Weige","endpoints":[{"specification":"http://wiki.open311.org/GeoReport_v2","url":"http://weige.example/open311/v2","changeset":"2026-11-28T00:00:00+08:00","type":"production","formats":["text/xml","application/json"]}]}"#
    );
    let (status, ct, body) = get(&t, "/open311/v2/discovery.xml").await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, XML));
    assert_eq!(
        body,
        format!(
            "{DECL}<discovery><changeset>2026-11-28T00:00:00+08:00</changeset>\
             <contact>街道办事处网格管理中心 / the street office&apos;s grid centre</contact>\
             <key_service>API 密钥由街道管理员在 Weige 中创建（weige apikey create 或 /api/v1/apikeys） / API keys are issued by the street admin in Weige</key_service>\
             <endpoints><endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification>\
             <url>http://weige.example/open311/v2</url><changeset>2026-11-28T00:00:00+08:00</changeset>\
             <type>production</type><formats><format>text/xml</format><format>application/json</format></formats>\
             </endpoint></endpoints></discovery>"
        )
    );
}

#[tokio::test]
async fn the_service_list_and_a_definition_in_both_formats() {
    let t = spawn().await;
    for uri in [
        "/open311/v2/services.json",
        "/open311/v2/services.json?jurisdiction_id=510115001",
        "/open311/v2/services.json?jurisdiction_id=510115",
        "/open311/v2/services.json?jurisdiction_id=",
    ] {
        let (status, ct, body) = get(&t, uri).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, JSON), "{uri}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        let list = list.as_array().unwrap();
        assert!(list.len() > 300, "{uri}: {}", list.len());
        assert!(
            list.iter().all(|s| s["type"] == "realtime"
                // Of the defaults, only public facilities asks more.
                && s["metadata"] == (s["service_code"] == "sg.public_facilities")
                && !s["service_code"].as_str().unwrap().is_empty()),
            "{uri}"
        );
    }
    let (_, _, body) = get(&t, "/open311/v2/services.json").await;
    assert!(
        body.starts_with(GOLDEN_FIRST_SERVICE_JSON),
        "{}",
        &body[..600]
    );
    let (status, ct, body) = get(&t, "/open311/v2/services.xml").await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, XML));
    assert!(
        body.starts_with(&format!("{DECL}<services>{GOLDEN_FIRST_SERVICE_XML}")),
        "{}",
        &body[..800]
    );
    assert!(body.ends_with("</service></services>"));
    // A matter of GB/T 47678.5 sits under its major class.
    let list: serde_json::Value =
        serde_json::from_str(&get(&t, "/open311/v2/services.json").await.2).unwrap();
    let matter = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"].as_str().unwrap().starts_with("gbt."))
        .unwrap();
    assert!(!matter["group"].as_str().unwrap().is_empty(), "{matter}");

    let (status, ct, body) = get(&t, "/open311/v2/services/sg.sanitation.json").await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, JSON));
    assert_eq!(body, r#"{"service_code":"sg.sanitation","attributes":[]}"#);
    let (status, ct, body) = get(
        &t,
        "/open311/v2/services/sg.sanitation.xml?jurisdiction_id=510115001",
    )
    .await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, XML));
    assert_eq!(
        body,
        format!(
            "{DECL}<service_definition><service_code>sg.sanitation</service_code><attributes></attributes></service_definition>"
        )
    );
    let (_, _, body) = get(&t, "/open311/v2/services/sg.public_facilities.json").await;
    assert_eq!(body, GOLDEN_DEFINITION_JSON);
    let (_, _, body) = get(&t, "/open311/v2/services/sg.public_facilities.xml").await;
    assert_eq!(body, format!("{DECL}{GOLDEN_DEFINITION_XML}"));
}

const GOLDEN_DEFINITION_JSON: &str = r#"{"service_code":"sg.public_facilities","attributes":[{"variable":true,"code":"facility","datatype":"singlevaluelist","required":false,"datatype_description":"","order":1,"description":"哪类设施？","values":[{"key":"elevator","name":"电梯"},{"key":"door","name":"单元门禁"},{"key":"light","name":"路灯照明"},{"key":"fitness","name":"健身器材"},{"key":"pipe","name":"管道水电"},{"key":"other","name":"其他"}]},{"variable":true,"code":"building","datatype":"string","required":false,"datatype_description":"如 3栋2单元","order":2,"description":"几栋几单元？"}]}"#;
const GOLDEN_DEFINITION_XML: &str = "<service_definition><service_code>sg.public_facilities</service_code><attributes>\
     <attribute><variable>true</variable><code>facility</code><datatype>singlevaluelist</datatype><required>false</required>\
     <datatype_description></datatype_description><order>1</order><description>哪类设施？</description><values>\
     <value><key>elevator</key><name>电梯</name></value><value><key>door</key><name>单元门禁</name></value>\
     <value><key>light</key><name>路灯照明</name></value><value><key>fitness</key><name>健身器材</name></value>\
     <value><key>pipe</key><name>管道水电</name></value><value><key>other</key><name>其他</name></value></values></attribute>\
     <attribute><variable>true</variable><code>building</code><datatype>string</datatype><required>false</required>\
     <datatype_description>如 3栋2单元</datatype_description><order>2</order><description>几栋几单元？</description></attribute>\
     </attributes></service_definition>";

/// The street admin's questions for a category: one of every datatype.
fn every_kind_of_question() -> Vec<app::Question> {
    let q = |code: &str, datatype: &str, required: bool, values: &[(&str, &str)]| app::Question {
        code: code.into(),
        datatype: datatype.into(),
        required,
        description: format!("{code}?"),
        hint: String::new(),
        values: values
            .iter()
            .map(|(k, n)| app::QuestionValue {
                key: (*k).into(),
                name: (*n).into(),
            })
            .collect(),
    };
    vec![
        q("bins", "number", true, &[]),
        q("seen", "datetime", false, &[]),
        q("where", "string", false, &[]),
        q("more", "text", false, &[]),
        q(
            "smell",
            "singlevaluelist",
            true,
            &[("none", "无"), ("strong", "很大")],
        ),
        q(
            "kinds",
            "multivaluelist",
            false,
            &[("kitchen", "厨余"), ("bulky", "大件"), ("other", "其他")],
        ),
    ]
}

#[tokio::test]
async fn attributes_of_every_datatype_are_asked_checked_and_kept() {
    let (t, key) = with_key().await;
    t.app
        .save_questions(&app::Ctx::cli(), "sg.sanitation", &every_kind_of_question())
        .await
        .unwrap();
    let (_, _, body) = get(&t, "/open311/v2/services/sg.sanitation.json").await;
    let definition: serde_json::Value = serde_json::from_str(&body).unwrap();
    let kinds: Vec<(&str, bool, i64)> = definition["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["datatype"].as_str().unwrap(),
                a["required"].as_bool().unwrap(),
                a["order"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("number", true, 1),
            ("datetime", false, 2),
            ("string", false, 3),
            ("text", false, 4),
            ("singlevaluelist", true, 5),
            ("multivaluelist", false, 6)
        ]
    );
    let base = [
        ("api_key", key.as_str()),
        ("service_code", "sg.sanitation"),
        ("address_id", "510115001001001001"),
        ("description", "垃圾堆在路口"),
    ];
    let before = case_count(&t).await;
    let refused = [
        (
            vec![("attribute[smell]", "strong")],
            "attribute bins: 请回答“bins?” / an answer is required",
        ),
        (
            vec![("attribute[bins]", "3")],
            "attribute smell: 请回答“smell?” / an answer is required",
        ),
        (
            vec![("attribute[bins]", "three"), ("attribute[smell]", "strong")],
            "attribute bins: 须为数字 / must be a number",
        ),
        (
            vec![("attribute[bins]", "3"), ("attribute[smell]", "awful")],
            "attribute smell: 没有选项 awful / no such choice",
        ),
        (
            vec![
                ("attribute[bins]", "3"),
                ("attribute[smell]", "strong"),
                ("attribute[seen]", "yesterday"),
            ],
            "attribute seen: 须为带时区的日期时间，如 2026-05-01T09:30:00+08:00 / must be a date and time with its zone",
        ),
        (
            vec![
                ("attribute[bins]", "3"),
                ("attribute[smell]", "strong"),
                ("attribute[colour]", "red"),
            ],
            "attribute colour: 此类别没有这个问题 / this category asks no such question",
        ),
    ];
    for (attributes, description) in refused {
        let form: Vec<(&str, &str)> = base.iter().copied().chain(attributes).collect();
        let (status, body) = post(&t, "/open311/v2/requests.json", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        let expected = serde_json::json!([{"code": 400, "description": description}]).to_string();
        assert_eq!(body, expected, "{form:?}");
    }
    assert_eq!(case_count(&t).await, before, "nothing created");

    let form: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .chain([
            ("attribute[bins]", "3"),
            ("attribute[seen]", "2026-11-28T07:30:00+08:00"),
            ("attribute[where]", "东门"),
            ("attribute[smell]", "strong"),
            ("attribute[kinds][]", "kitchen"),
            ("attribute[kinds][]", "bulky"),
        ])
        .collect();
    let (status, body) = post(&t, "/open311/v2/requests.json", &form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let number = serde_json::from_str::<serde_json::Value>(&body).unwrap()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = case_id(&t, &number).await;
    let case = t.app.case(&app::Ctx::cli(), id).await.unwrap();
    let answers: Vec<(String, String)> = case
        .answers
        .into_iter()
        .map(|a| (a.question, a.answer))
        .collect();
    assert_eq!(
        answers,
        [
            ("bins?".to_owned(), "3".to_owned()),
            ("seen?".to_owned(), "2026-11-28T07:30:00+08:00".to_owned()),
            ("where?".to_owned(), "东门".to_owned()),
            ("smell?".to_owned(), "很大".to_owned()),
            ("kinds?".to_owned(), "厨余、大件".to_owned()),
        ]
    );
}

#[tokio::test]
async fn errors_as_the_specification_gives_them() {
    let t = spawn().await;
    let cases = [
        (
            "/open311/v2/services.json?jurisdiction_id=510115999",
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"jurisdiction_id 510115999 not found"}]"#.to_owned(),
        ),
        (
            "/open311/v2/services.xml?jurisdiction_id=510115001001",
            StatusCode::NOT_FOUND,
            format!(
                "{DECL}<errors><error><code>404</code><description>jurisdiction_id 510115001001 not found</description></error></errors>"
            ),
        ),
        (
            "/open311/v2/services.json?jurisdiction_id=sfgov.org",
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"jurisdiction_id sfgov.org not found"}]"#.to_owned(),
        ),
        (
            "/open311/v2/services/sg.nothing.json",
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"service_code sg.nothing not found"}]"#.to_owned(),
        ),
        (
            // A group is not a service: it takes no cases.
            "/open311/v2/services/sg.json",
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"service_code sg not found"}]"#.to_owned(),
        ),
        (
            "/open311/v2/services.csv",
            StatusCode::NOT_FOUND,
            format!(
                "{DECL}<errors><error><code>404</code><description>services.csv not found</description></error></errors>"
            ),
        ),
        (
            "/open311/v2/tokens/12345.json",
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"token 12345 not found"}]"#.to_owned(),
        ),
        (
            "/open311/v2/tickets.json",
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"tickets.json not found"}]"#.to_owned(),
        ),
    ];
    for (uri, status, body) in cases {
        let (got_status, _, got) = get(&t, uri).await;
        assert_eq!((got_status, got.as_str()), (status, body.as_str()), "{uri}");
    }
    // With a second street the server serves two jurisdictions: a request must name one.
    t.app
        .add_grid_node(&app::Ctx::cli(), "510115002", "涌泉街道")
        .await
        .unwrap();
    let (status, _, body) = get(&t, "/open311/v2/services.json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"[{"code":400,"description":"jurisdiction_id is required: this server serves several streets"}]"#
    );
    let (status, _, _) = get(&t, "/open311/v2/services.json?jurisdiction_id=510115002").await;
    assert_eq!(status, StatusCode::OK);
}

const GOLDEN_FIRST_SERVICE_JSON: &str = r#"[{"service_code":"sg.neighbour_dispute","service_name":"邻里纠纷","description":"邻里纠纷（表达需求）。结案条件：双方达成和解或调解协议，当事人确认","metadata":false,"type":"realtime","keywords":"邻里纠纷,社会治理,表达需求","group":"社会治理"},"#;
const GOLDEN_FIRST_SERVICE_XML: &str = "<service><service_code>sg.neighbour_dispute</service_code><service_name>邻里纠纷</service_name>\
    <description>邻里纠纷（表达需求）。结案条件：双方达成和解或调解协议，当事人确认</description><metadata>false</metadata>\
    <type>realtime</type><keywords>邻里纠纷,社会治理,表达需求</keywords><group>社会治理</group></service>";

/// Form fields, in order.
type Form<'a> = Vec<(&'a str, &'a str)>;

async fn post(t: &TestApp, uri: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", common::encode(k), common::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = t
        .send(
            Request::post(uri)
                .header(header::HOST, "weige.example")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    (r.status, r.text())
}

/// A test server and an API key of the street admin, as a civic app would hold.
async fn with_key() -> (TestApp, String) {
    let t = spawn().await;
    let key = t
        .app
        .create_api_key(&app::Ctx::cli(), "civic app", "street_admin", "510115001")
        .await
        .unwrap()
        .key;
    (t, key)
}

/// The id of the case a request became.
async fn case_id(t: &TestApp, number: &str) -> i64 {
    t.app
        .cases(
            &app::Ctx::cli(),
            &app::CaseQuery {
                scope: Some("510115001".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.number == number)
        .unwrap()
        .id
}

async fn case_count(t: &TestApp) -> usize {
    t.app
        .cases(
            &app::Ctx::cli(),
            &app::CaseQuery {
                scope: Some("510115001".into()),
                limit: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn a_civic_app_posts_a_request_and_reads_it_back() {
    let (t, key) = with_key().await;
    let (status, body) = post(
        &t,
        "/open311/v2/requests.json",
        &[
            ("api_key", &key),
            ("jurisdiction_id", "510115001"),
            ("service_code", "sg.sanitation"),
            ("address_id", "510115001001001001"),
            ("description", "垃圾桶满溢，气味很大"),
            ("media_url", "https://img.example/p/1.jpg"),
            ("first_name", "小明"),
            ("last_name", "王"),
            ("email", "ignored@example.org"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let number = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(number.starts_with("510115001-"), "{number}");
    assert_eq!(
        body,
        format!(
            r#"[{{"service_request_id":"{number}","service_notice":"{}"}}]"#,
            created[0]["service_notice"].as_str().unwrap()
        ),
        "exactly these two fields"
    );
    let view = t
        .app
        .cases(
            &app::Ctx::cli(),
            &app::CaseQuery {
                scope: Some("510115001".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.number == number)
        .unwrap();
    assert_eq!(view.channel, "open311");
    assert_eq!(view.micro_grid, "510115001001001001");

    // Without a key: where and how far, not what the reporter wrote.
    let (status, ct, body) = get(&t, &format!("/open311/v2/requests/{number}.json")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, JSON));
    let public: serde_json::Value = serde_json::from_str(&body).unwrap();
    let r = &public[0];
    assert_eq!(r["service_request_id"], number.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["status_notes"], "待受理");
    assert_eq!(r["service_code"], "sg.sanitation");
    assert!(r.get("description").is_none(), "{r}");
    assert!(r.get("media_url").is_none(), "{r}");
    assert!(
        r["agency_responsible"]
            .as_str()
            .unwrap()
            .ends_with(" · 微网格"),
        "{r}"
    );
    for field in [
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
    ] {
        let t = r[field].as_str().unwrap();
        assert!(t.len() == 25 && t.ends_with("+08:00"), "{field}: {t}");
    }
    // With the key: the description and the media too.
    let (_, _, body) = get(
        &t,
        &format!("/open311/v2/requests/{number}.json?api_key={key}"),
    )
    .await;
    let keyed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(keyed[0]["description"], "垃圾桶满溢，气味很大");
    assert_eq!(keyed[0]["media_url"], "https://img.example/p/1.jpg");
    let (status, ct, xml) = get(&t, &format!("/open311/v2/requests/{number}.xml")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, XML));
    assert!(
        xml.starts_with(&format!(
            "{DECL}<service_requests><request><service_request_id>{number}</service_request_id>\
             <status>open</status><status_notes>待受理</status_notes><service_name>环境卫生</service_name>\
             <service_code>sg.sanitation</service_code><agency_responsible>"
        )),
        "{xml}"
    );
    assert!(
        xml.ends_with("</address></request></service_requests>"),
        "{xml}"
    );

    // Posted as XML with a pin: routed to the micro-grid under it.
    let at = t.app.locate(103.835, 30.685).unwrap();
    let (status, body) = post(
        &t,
        "/open311/v2/requests.xml",
        &[
            ("api_key", &key),
            ("service_code", "sg.public_facilities"),
            ("lat", "30.685"),
            ("long", "103.835"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let prefix = format!("{DECL}<service_requests><request><service_request_id>");
    assert!(body.starts_with(&prefix), "{body}");
    let number = &body[prefix.len()..prefix.len() + "510115001-2026-000002".len()];
    assert!(
        body.contains("</service_notice></request></service_requests>"),
        "{body}"
    );
    let (_, _, one) = get(&t, &format!("/open311/v2/requests/{number}.json")).await;
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one[0]["address"], at.micro_grid.name.as_str(), "{one}");
    assert_eq!(one[0]["lat"], 30.685);
    assert_eq!(one[0]["long"], 103.835);

    // The list, newest first, with each argument of the specification.
    let first = created[0]["service_request_id"].as_str().unwrap();
    let ids = |uri: &str| {
        let uri = uri.to_owned();
        let t = &t;
        async move {
            let (status, _, body) = get(t, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
                .collect::<Vec<String>>()
        }
    };
    let both = vec![number.to_owned(), first.to_owned()];
    assert_eq!(ids("/open311/v2/requests.json").await, both);
    assert_eq!(ids("/open311/v2/requests.json?status=open").await, both);
    assert!(
        ids("/open311/v2/requests.json?status=closed")
            .await
            .is_empty()
    );
    assert_eq!(
        ids("/open311/v2/requests.json?service_code=sg.sanitation").await,
        vec![first.to_owned()]
    );
    assert_eq!(
        ids("/open311/v2/requests.json?page_size=1&page=2").await,
        vec![first.to_owned()]
    );
    assert_eq!(
        ids(&format!(
            "/open311/v2/requests.json?service_request_id={first},510115001-2026-999999&service_code=sg.nothing"
        ))
        .await,
        vec![first.to_owned()],
        "service_request_id overrides every other argument"
    );
    assert!(
        ids("/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-03-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert!(
        ids("/open311/v2/requests.json?updated_after=2099-01-01T00:00:00%2B08:00")
            .await
            .is_empty()
    );
    let (status, ct, xml) = get(&t, "/open311/v2/requests.xml?page_size=1").await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, XML));
    assert!(
        xml.starts_with(&format!(
            "{DECL}<service_requests><request><service_request_id>{number}</service_request_id>"
        )) && xml.matches("<request>").count() == 1,
        "{xml}"
    );
    for (uri, message) in [
        (
            "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            "start_date to end_date may span at most 90 days",
        ),
        (
            "/open311/v2/requests.json?start_date=2026-01-01",
            "start_date must be an ISO 8601 date and time with its zone, e.g. 2026-01-01T00:00:00+08:00",
        ),
        (
            "/open311/v2/requests.json?status=fixed",
            "status is open or closed, not \"fixed\"",
        ),
        (
            "/open311/v2/requests.json?page_size=5000",
            "page_size is 1 to 1000",
        ),
        (
            "/open311/v2/requests.json?page=x",
            "page must be a whole number",
        ),
    ] {
        let (status, _, body) = get(&t, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            body,
            serde_json::json!([{"code": 400, "description": message}]).to_string(),
            "{uri}"
        );
    }
    let (status, _, _) = get(&t, "/open311/v2/requests.json?service_code=sg.nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_posts_are_refused_and_create_nothing() {
    let (t, key) = with_key().await;
    let before = case_count(&t).await;
    let long_text = "字".repeat(4001);
    let cases: Vec<(Form, StatusCode, &str)> = vec![
        (
            vec![
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
            ],
            StatusCode::FORBIDDEN,
            r#"[{"code":403,"description":"api_key is required"}]"#,
        ),
        (
            vec![
                ("api_key", "wk_nonsense"),
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
            ],
            StatusCode::FORBIDDEN,
            r#"[{"code":403,"description":"api_key is missing, unknown or not allowed here"}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.nothing"),
                ("address_id", "510115001001001001"),
            ],
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"service_code sg.nothing not found"}]"#,
        ),
        (
            vec![("api_key", &key), ("address_id", "510115001001001001")],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"service_code is required"}]"#,
        ),
        (
            vec![("api_key", &key), ("service_code", "sg.sanitation")],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"give exactly one location: lat and long, address_string, or address_id"}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
                ("address_string", "和平小区"),
            ],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"give exactly one location: lat and long, address_string, or address_id"}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.sanitation"),
                ("lat", "30.68"),
            ],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"lat and long go together"}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.sanitation"),
                ("lat", "north"),
                ("long", "103.8"),
            ],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"lat is not a number: \"north\""}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
                ("attribute[", "x"),
            ],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"malformed attribute key \"attribute[\""}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
                ("attribute[size][]", "big"),
            ],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"attribute size: 此类别没有这个问题 / this category asks no such question"}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
                ("description", &long_text),
            ],
            StatusCode::BAD_REQUEST,
            r#"[{"code":400,"description":"description: 请描述问题，最多 4000 字 / describe the problem in at most 4000 characters"}]"#,
        ),
        (
            vec![
                ("api_key", &key),
                ("jurisdiction_id", "510115999"),
                ("service_code", "sg.sanitation"),
                ("address_id", "510115001001001001"),
            ],
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"jurisdiction_id 510115999 not found"}]"#,
        ),
    ];
    for (form, status, body) in cases {
        let (got_status, got) = post(&t, "/open311/v2/requests.json", &form).await;
        assert_eq!((got_status, got.as_str()), (status, body), "{form:?}");
    }
    let (status, _, body) = get(&t, "/open311/v2/requests/510115001-2026-999999.json").await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::NOT_FOUND,
            r#"[{"code":404,"description":"service_request_id 510115001-2026-999999 not found"}]"#
        )
    );
    assert_eq!(case_count(&t).await, before, "nothing created");
}

#[tokio::test]
async fn the_history_through_extensions_and_servicerequestupdates() {
    let (t, key) = with_key().await;
    let (status, body) = post(
        &t,
        "/open311/v2/requests.json",
        &[
            ("api_key", &key),
            ("service_code", "sg.sanitation"),
            ("address_id", "510115001001001001"),
            ("description", "垃圾桶满溢"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let number = serde_json::from_str::<serde_json::Value>(&body).unwrap()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = case_id(&t, &number).await;
    let mut version = t
        .app
        .case(&app::Ctx::cli(), id)
        .await
        .unwrap()
        .summary
        .version;
    for (action, reason) in [
        ("accept", ""),
        ("comment", "已联系保洁公司"),
        ("force_close", "已清运"),
    ] {
        version = t
            .app
            .act(
                &app::Ctx::cli(),
                id,
                &app::ActInput {
                    action: action.into(),
                    version,
                    reason: reason.into(),
                    ..Default::default()
                },
                Vec::new(),
            )
            .await
            .unwrap()
            .summary
            .version;
    }

    // extensions=true: the channel, Weige's own status and every step; the reasons only with
    // a key that may read the place.
    let uri = format!("/open311/v2/requests/{number}.json?extensions=true&api_key={key}");
    let (_, _, body) = get(&t, &uri).await;
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ext = &one[0]["extended_attributes"];
    assert_eq!(ext["channel"], "open311", "{body}");
    assert_eq!(ext["status_detail"], "closed");
    let notes = ext["notes"].as_array().unwrap();
    let kinds: Vec<&str> = notes.iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["opened", "activity", "activity", "activity", "closed"],
        "report, accept, the automatic dispatch, the note, the closing"
    );
    assert_eq!(notes[3]["description"], "已联系保洁公司");
    assert_eq!(notes[4]["summary"], "特殊结案");
    let (_, _, public) = get(
        &t,
        &format!("/open311/v2/requests/{number}.json?extensions=true"),
    )
    .await;
    assert!(!public.contains("已联系保洁公司"), "{public}");
    assert!(public.contains("\"notes\":[{\"datetime\""), "{public}");
    let (_, _, plain) = get(&t, &format!("/open311/v2/requests/{number}.json")).await;
    assert!(!plain.contains("extended_attributes"));
    let (_, _, xml) = get(
        &t,
        &format!("/open311/v2/requests.xml?extensions=true&service_request_id={number}"),
    )
    .await;
    assert!(
        xml.contains("<extended_attributes><channel>open311</channel><status_detail>closed</status_detail><tier>micro_grid</tier><notes><note><datetime>"),
        "{xml}"
    );

    // servicerequestupdates: each step with mySociety's status, oldest first.
    let (status, ct, body) = get(
        &t,
        &format!("/open311/v2/servicerequestupdates.json?api_key={key}"),
    )
    .await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, JSON));
    let updates: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mine: Vec<&serde_json::Value> = updates
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["service_request_id"] == number.as_str())
        .collect();
    let statuses: Vec<&str> = mine.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["for_triage", "open", "open", "open", "closed"]);
    assert_eq!(mine[4]["description"], "特殊结案：已结案。已清运");
    assert!(
        mine.iter()
            .all(|u| u["media_url"] == "" && !u["update_id"].as_str().unwrap().is_empty())
    );
    let (_, _, public) = get(&t, "/open311/v2/servicerequestupdates.json").await;
    assert!(public.contains("特殊结案：已结案\""), "{public}");
    assert!(!public.contains("已清运"));
    // Golden, in both formats: the closing step, on a page of its own; only its id and time are
    // taken from the answer.
    let closing = mine[4];
    let (id, at) = (
        closing["update_id"].as_str().unwrap(),
        closing["updated_datetime"].as_str().unwrap(),
    );
    assert!(at.ends_with("+08:00"), "{at}");
    let page = updates
        .as_array()
        .unwrap()
        .iter()
        .position(|u| u["update_id"] == id)
        .unwrap()
        + 1;
    let uri =
        format!("/open311/v2/servicerequestupdates.json?api_key={key}&page={page}&page_size=1");
    let (_, _, json) = get(&t, &uri).await;
    assert_eq!(
        json,
        format!(
            r#"[{{"update_id":"{id}","service_request_id":"{number}","status":"closed","updated_datetime":"{at}","description":"特殊结案：已结案。已清运","media_url":""}}]"#
        )
    );
    let (_, ct, xml) = get(&t, &uri.replace(".json", ".xml")).await;
    assert_eq!(ct, XML);
    assert_eq!(
        xml,
        format!(
            "{DECL}<service_request_updates><request_update><update_id>{id}</update_id>\
             <service_request_id>{number}</service_request_id><status>closed</status>\
             <updated_datetime>{at}</updated_datetime><description>特殊结案：已结案。已清运</description>\
             <media_url></media_url></request_update></service_request_updates>"
        )
    );

    for (uri, message) in [
        (
            "/open311/v2/requests.json?extensions=yes",
            "extensions is true or false",
        ),
        (
            "/open311/v2/servicerequestupdates.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            "start_date to end_date may span at most 90 days",
        ),
        (
            "/open311/v2/servicerequestupdates.json?start_date=yesterday",
            "start_date must be an ISO 8601 date and time with its zone, e.g. 2026-01-01T00:00:00+08:00",
        ),
    ] {
        let (status, _, body) = get(&t, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            body,
            serde_json::json!([{"code": 400, "description": message}]).to_string(),
            "{uri}"
        );
    }
}
