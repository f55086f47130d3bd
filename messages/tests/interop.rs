//! Interop with an independent implementation: Python wechatpy encrypts what we decrypt and
//! decrypts what we encrypt, for the app (corp id) and the robot/AI bot (empty receiveid).
//!
//! The Python is `$RALLYBOT_PYTHON` or `<repo>/.venv/bin/python` (set up by `scripts/test`).
//! Without it the test is skipped with a message, except under `CI`, where it fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use rallybot_messages::envelope::{encrypt_from_xml, xml_reply};
use rallybot_messages::{reply, Crypter};

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP: &str = "wx5823bf96d3bd56c7";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("messages/ sits inside the repository")
        .to_path_buf()
}

/// The interpreter with wechatpy, or `None` (after deciding whether that is allowed).
fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("RALLYBOT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    let usable = Command::new(&candidate)
        .args(["-c", "import wechatpy.enterprise.crypto, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if usable {
        return Some(candidate);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "wechatpy not usable with {} and CI is set: run scripts/test",
            candidate.display()
        );
    }
    println!("skipped: wechatpy not installed (run scripts/test)");
    None
}

/// Runs a batch of operations through `scripts/wechatpy_interop.py`.
fn wechatpy(python: &Path, ops: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(repo_root().join("scripts/wechatpy_interop.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(
            serde_json::to_string(ops)
                .expect("ops serialise")
                .as_bytes(),
        )
        .expect("ops written");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "interop script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("results are JSON");
    assert_eq!(results.len(), ops.len());
    results
}

/// Payloads around the 32-byte padding boundaries, non-ASCII text, and real message shapes.
fn payloads() -> Vec<String> {
    let mut all: Vec<String> = (0..=70).map(|n| "x".repeat(n)).collect();
    all.push("你好，工会会员！报名 A0017".into());
    all.push("票".repeat(1500));
    all.push("<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[张三]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[排名]]></Content><MsgId>1</MsgId><AgentID>1000002</AgentID></xml>".into());
    all.push(reply::robot_text("第1名：哈尔滨", &["zhangsan"]));
    all.push(reply::aibot_stream("s-1", "**完成**\n第二行", true));
    all
}

fn op(kind: &str, receive_id: &str) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("op".into(), json!(kind));
    map.insert("token".into(), json!(TOKEN));
    map.insert("key".into(), json!(KEY));
    map.insert("receive_id".into(), json!(receive_id));
    map
}

#[test]
fn wechatpy_and_we_agree_both_ways() {
    let Some(python) = python() else { return };
    for receive_id in [CORP, ""] {
        let ours = Crypter::new(TOKEN, KEY, receive_id).unwrap();
        let payloads = payloads();

        // wechatpy encrypts, we decrypt.
        let ops: Vec<Value> = payloads
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut o = op("encrypt", receive_id);
                o.insert("plaintext".into(), json!(text));
                o.insert("nonce".into(), json!(format!("nonce{i}")));
                o.insert("timestamp".into(), json!("1700000000"));
                Value::Object(o)
            })
            .collect();
        let sealed = wechatpy(&python, &ops);
        for (i, (text, result)) in payloads.iter().zip(&sealed).enumerate() {
            let envelope = result["envelope"].as_str().expect("wechatpy envelope");
            let root = rallybot_messages::xml::parse(envelope).unwrap();
            let signature = root.child_text("MsgSignature").unwrap();
            let encrypt = encrypt_from_xml(envelope).unwrap();
            let plain = ours
                .decrypt(signature, "1700000000", &format!("nonce{i}"), &encrypt)
                .unwrap_or_else(|e| panic!("receiveid {receive_id:?}, payload {i}: {e}"));
            assert_eq!(&plain, text);
            // The other surface's receiveid is refused.
            let other =
                Crypter::new(TOKEN, KEY, if receive_id.is_empty() { CORP } else { "" }).unwrap();
            let err = other
                .decrypt(signature, "1700000000", &format!("nonce{i}"), &encrypt)
                .unwrap_err();
            assert_eq!(err.code(), -40005);
        }

        // We encrypt, wechatpy decrypts (and refuses with the wrong receiveid or signature).
        let mut ops = Vec::new();
        for (i, text) in payloads.iter().enumerate() {
            let nonce = format!("n{i}");
            let (encrypt, signature) = ours.encrypt(text, &nonce, "1700000001").unwrap();
            let envelope = xml_reply(&encrypt, &signature, "1700000001", &nonce);
            for (expected_id, sig) in [
                (receive_id, signature.as_str()),
                (
                    if receive_id.is_empty() { CORP } else { "" },
                    signature.as_str(),
                ),
                (receive_id, "0000000000000000000000000000000000000000"),
            ] {
                let mut o = op("decrypt", expected_id);
                o.insert("envelope".into(), json!(envelope));
                o.insert("signature".into(), json!(sig));
                o.insert("timestamp".into(), json!("1700000001"));
                o.insert("nonce".into(), json!(nonce));
                ops.push(Value::Object(o));
            }
        }
        let opened = wechatpy(&python, &ops);
        for (i, text) in payloads.iter().enumerate() {
            let [good, wrong_id, wrong_sig] =
                [&opened[3 * i], &opened[3 * i + 1], &opened[3 * i + 2]];
            assert_eq!(
                good["plaintext"].as_str(),
                Some(text.as_str()),
                "payload {i}: {good}"
            );
            assert_eq!(wrong_id["error"], "InvalidCorpIdException", "payload {i}");
            assert_eq!(
                wrong_sig["error"], "InvalidSignatureException",
                "payload {i}"
            );
        }
    }
}

#[test]
fn wechatpy_verifies_our_url_echo() {
    let Some(python) = python() else { return };
    let mut ops = Vec::new();
    let mut expected = Vec::new();
    for receive_id in [CORP, ""] {
        let ours = Crypter::new(TOKEN, KEY, receive_id).unwrap();
        let echo = "1616140317555161061";
        let (echostr, signature) = ours.encrypt(echo, "263014780", "1409659589").unwrap();
        let mut o = op("check_signature", receive_id);
        o.insert("echostr".into(), json!(echostr));
        o.insert("signature".into(), json!(signature));
        o.insert("timestamp".into(), json!("1409659589"));
        o.insert("nonce".into(), json!("263014780"));
        ops.push(Value::Object(o));
        expected.push(echo);
    }
    let results = wechatpy(&python, &ops);
    for (result, echo) in results.iter().zip(expected) {
        assert_eq!(result["plaintext"].as_str(), Some(echo), "{result}");
    }
}
