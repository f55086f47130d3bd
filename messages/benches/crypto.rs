//! Callback hot paths: verify + decrypt + parse of an app text callback, encrypt + sign of a reply.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use rallybot_messages::{parse_app_message, reply, xml, CallbackQuery, Crypter};

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP: &str = "wx5823bf96d3bd56c7";

/// An app text callback plaintext of about 600 bytes, shaped like a real one.
fn app_text_plaintext() -> String {
    let content = "投稿 奋进故事 标题：我的岗位我的梦 正文：".to_owned() + &"工会".repeat(45);
    let plain = format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>\n<FromUserName><![CDATA[zhangsan]]></FromUserName>\n<CreateTime>1700000000</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[{content}]]></Content>\n<MsgId>7312345678901234567</MsgId>\n<AgentID>1000002</AgentID>\n</xml>"
    );
    assert!((550..=650).contains(&plain.len()), "{}", plain.len());
    plain
}

fn callback(c: &mut Criterion) {
    let crypter = Crypter::new(TOKEN, KEY, CORP).expect("valid key");
    let plain = app_text_plaintext();
    let body = crypter
        .seal_xml(&plain, "1372623149", "1700000000")
        .expect("seal");
    let signature = xml::parse(&body)
        .expect("envelope")
        .child_text("MsgSignature")
        .expect("signature")
        .to_owned();
    let query = format!("msg_signature={signature}&timestamp=1700000000&nonce=1372623149");

    let mut group = c.benchmark_group("callback");
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("verify_decrypt_parse_app_text_600B", |b| {
        b.iter(|| {
            let q = CallbackQuery::parse(black_box(&query)).expect("query");
            let opened = crypter.open_xml(&q, black_box(&body)).expect("opens");
            let msg = parse_app_message(&opened).expect("parses");
            black_box(msg.dedup_key())
        })
    });
    group.finish();

    // The same path split into its stages, to see where the time goes.
    let mut stages = c.benchmark_group("callback_stages");
    let q = CallbackQuery::parse(&query).expect("query");
    let encrypted = rallybot_messages::envelope::encrypt_from_xml(&body).expect("envelope");
    stages.bench_function("query_parse", |b| {
        b.iter(|| CallbackQuery::parse(black_box(&query)))
    });
    stages.bench_function("envelope_extract", |b| {
        b.iter(|| rallybot_messages::envelope::encrypt_from_xml(black_box(&body)))
    });
    stages.bench_function("verify_signature", |b| {
        b.iter(|| {
            crypter.verify_signature(
                &q.msg_signature,
                &q.timestamp,
                &q.nonce,
                black_box(&encrypted),
            )
        })
    });
    stages.bench_function("decrypt", |b| {
        b.iter(|| crypter.decrypt_unsigned(black_box(&encrypted)))
    });
    stages.bench_function("parse_app_message", |b| {
        b.iter(|| parse_app_message(black_box(&plain)))
    });
    stages.finish();
}

fn reply_path(c: &mut Criterion) {
    let crypter = Crypter::new(TOKEN, KEY, CORP).expect("valid key");
    let content = "你的作品 A0017 已收到，当前得票 128，排名第 3。".repeat(2);
    let plain = reply::app_text("zhangsan", CORP, &content, 1_700_000_000);
    assert!((250..=400).contains(&plain.len()), "{}", plain.len());

    let mut group = c.benchmark_group("reply");
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("encrypt_sign_300B", |b| {
        b.iter(|| {
            crypter
                .encrypt(black_box(&plain), "1372623149", "1700000000")
                .expect("encrypts")
        })
    });
    group.bench_function("build_encrypt_sign_envelope_300B", |b| {
        b.iter(|| {
            let plain = reply::app_text("zhangsan", CORP, black_box(&content), 1_700_000_000);
            crypter
                .seal_xml(&plain, "1372623149", "1700000000")
                .expect("seals")
        })
    });
    group.finish();
}

criterion_group!(benches, callback, reply_path);
criterion_main!(benches);
