//! Settings for a bot that runs entirely on this machine (`rallybot chat`, the load generator,
//! the end-to-end tests): fresh random credentials for every surface, throwaway privacy keys, a
//! rehearsal clock, port 0, and the bundled campaign.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use rallybot_handlers::campaign::{Campaign, Opening, Stage};
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;

use crate::config::{Secret, Settings};

/// The campaign shipped in `deploy/campaigns/`: the 黑龙江 2022 campaign of the seed notice.
pub const BUNDLED_CAMPAIGN: &str = "deploy/campaigns/longjiang-2022.toml";

/// The bundled campaign, found from the working directory or from the source tree.
pub fn bundled_campaign() -> PathBuf {
    let here = PathBuf::from(BUNDLED_CAMPAIGN);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(BUNDLED_CAMPAIGN)
}

/// `n` random letters and digits.
pub fn random_alnum(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), n)
}

/// Settings for a local bot: every surface enabled with random credentials, random privacy
/// secrets (the database is throwaway too), a rehearsal clock, listening on 127.0.0.1:0.
pub fn local_settings(storage_url: &str, api_base: &str, campaign_file: &Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    s.server.public_url = "http://127.0.0.1".into();
    s.storage.url = storage_url.to_string();
    s.wecom.corp_id = format!("ww{}", random_alnum(16).to_lowercase());
    s.wecom.api_base = api_base.to_string();
    s.wecom.app.agent_id = 1_000_002;
    s.wecom.app.secret = Secret::new(random_alnum(32));
    s.wecom.app.token = Secret::new(random_alnum(16));
    s.wecom.app.encoding_aes_key = Secret::new(random_alnum(43));
    s.wecom.aibot.token = Secret::new(random_alnum(16));
    s.wecom.aibot.encoding_aes_key = Secret::new(random_alnum(43));
    s.wecom.robot.token = Secret::new(random_alnum(16));
    s.wecom.robot.encoding_aes_key = Secret::new(random_alnum(43));
    s.campaign.file = campaign_file.to_path_buf();
    s.privacy.pepper = Secret::new(random_alnum(32));
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    s.privacy.key = Secret::new(base64::engine::general_purpose::STANDARD.encode(key));
    s.admin.token = Secret::new(random_alnum(24));
    s.clock.rehearsal = true;
    s
}

/// `settings` as a `rallybot.toml` for a `serve` process of this machine. Secrets serialise as
/// `***` so that they never print; here they are written out in clear, and a secret this
/// function does not know of is an error instead of reaching the process as `***`.
pub fn config_file(settings: &Settings) -> anyhow::Result<String> {
    let mut file = toml::Value::try_from(settings)?;
    let wecom = &settings.wecom;
    let mut secrets = vec![
        (vec!["wecom", "app", "secret"], wecom.app.secret.expose()),
        (vec!["wecom", "app", "token"], wecom.app.token.expose()),
        (
            vec!["wecom", "app", "encoding_aes_key"],
            wecom.app.encoding_aes_key.expose(),
        ),
        (vec!["wecom", "aibot", "token"], wecom.aibot.token.expose()),
        (
            vec!["wecom", "aibot", "encoding_aes_key"],
            wecom.aibot.encoding_aes_key.expose(),
        ),
        (
            vec!["wecom", "aibot", "secret"],
            wecom.aibot.secret.expose(),
        ),
        (vec!["wecom", "robot", "token"], wecom.robot.token.expose()),
        (
            vec!["wecom", "robot", "encoding_aes_key"],
            wecom.robot.encoding_aes_key.expose(),
        ),
        (vec!["privacy", "pepper"], settings.privacy.pepper.expose()),
        (vec!["privacy", "key"], settings.privacy.key.expose()),
        (vec!["admin", "token"], settings.admin.token.expose()),
    ];
    let group_keys: Vec<(String, &str)> = wecom
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (i.to_string(), g.webhook_key.expose()))
        .collect();
    for (i, key) in &group_keys {
        secrets.push((vec!["wecom", "groups", i, "webhook_key"], key));
    }
    for (path, value) in secrets {
        let mut at = &mut file;
        for step in &path {
            at = match at {
                toml::Value::Table(table) => table.get_mut(*step),
                toml::Value::Array(items) => {
                    step.parse().ok().and_then(|i: usize| items.get_mut(i))
                }
                _ => None,
            }
            .ok_or_else(|| anyhow::anyhow!("no setting {}", path.join(".")))?;
        }
        *at = toml::Value::String(value.to_owned());
    }
    let text = toml::to_string(&file)?;
    anyhow::ensure!(
        !text.contains("\"***\""),
        "a secret setting is missing from `config_file`"
    );
    Ok(text)
}

/// A time when people can submit and vote: the tenth day of the first stage that opens voting,
/// at 09:00 local time (or that stage's start if it is shorter).
pub fn voting_time(campaign: &Campaign) -> Option<DateTime<Utc>> {
    let stage = campaign
        .stages
        .iter()
        .find(|s| s.opens.contains(&Opening::Vote))?;
    tenth_day(campaign, stage)
}

/// Where a rehearsal (`rallybot chat`, `clock.start = "campaign"`) starts: inside an active
/// stage of the campaign. `voting_time` when a stage opens voting; else the tenth day of the
/// first stage that opens submissions; else (a campaign without tracks, where the work is
/// reporting) of the stage that overlaps the quota windows most (then the longest).
pub fn active_time(campaign: &Campaign) -> Option<DateTime<Utc>> {
    if let Some(at) = voting_time(campaign) {
        return Some(at);
    }
    let stage = campaign
        .stages
        .iter()
        .find(|s| s.opens.contains(&Opening::Submit))
        .or_else(|| {
            let quota_time = |s: &Stage| {
                campaign
                    .metrics
                    .iter()
                    .map(|m| {
                        (s.ends.min(m.window_end) - s.starts.max(m.window_start))
                            .max(Duration::zero())
                    })
                    .max()
                    .unwrap_or_else(Duration::zero)
            };
            // The first of the best, should two be as good.
            campaign
                .stages
                .iter()
                .rev()
                .max_by_key(|s| (quota_time(s), s.ends - s.starts))
        })?;
    tenth_day(campaign, stage)
}

/// 09:00 local on the stage's tenth day, or the stage's start if it is shorter.
fn tenth_day(campaign: &Campaign, stage: &Stage) -> Option<DateTime<Utc>> {
    let tz = campaign.timezone;
    let first_day = stage.starts.with_timezone(&tz).date_naive();
    let nine = NaiveTime::from_hms_opt(9, 0, 0)?;
    let candidate = tz
        .from_local_datetime(&(first_day + Duration::days(9)).and_time(nine))
        .single()?
        .to_utc();
    Some(if candidate < stage.ends {
        candidate
    } else {
        stage.starts
    })
}

/// A valid-looking ID number (GB 11643 check digit) for rehearsals and tests: region 230103
/// (哈尔滨市南岗区), born 1990-01-01 plus `n` days, sequence from `n`. Not a real person's.
pub fn sample_id_number(n: u32) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1990, 1, 1)
        .unwrap_or_default()
        .checked_add_days(chrono::Days::new(u64::from(n % 7000)))
        .unwrap_or_default();
    with_check_digit(format!("230103{}{:03}", birth.format("%Y%m%d"), n % 1000))
}

/// A valid-looking ID number different for every `n` below 10,000,000 (born 1950-01-01 plus
/// `n / 1000` days, sequence `n % 1000`), for rehearsals with many members. Not a real person's.
pub fn distinct_id_number(n: u32) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1)
        .unwrap_or_default()
        .checked_add_days(chrono::Days::new(u64::from(n / 1000)))
        .unwrap_or_default();
    with_check_digit(format!("230103{}{:03}", birth.format("%Y%m%d"), n % 1000))
}

/// The 17 digits of `body` followed by their GB 11643 check digit.
fn with_check_digit(body: String) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

/// A valid-looking mobile number for rehearsals and tests.
pub fn sample_phone(n: u32) -> String {
    format!("139{:08}", n % 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_settings_pass_the_config_checks_that_matter() {
        let s = local_settings("sqlite::memory:", "http://127.0.0.1:1", Path::new("x.toml"));
        assert_eq!(s.wecom.app.encoding_aes_key.expose().len(), 43);
        assert!(rallybot_messages::Crypter::new(
            s.wecom.app.token.expose(),
            s.wecom.app.encoding_aes_key.expose(),
            &s.wecom.corp_id
        )
        .is_ok());
        assert!(rallybot_handlers::privacy::Privacy::new(
            s.privacy.pepper.expose(),
            s.privacy.key.expose()
        )
        .is_ok());
        assert_ne!(
            local_settings("x", "y", Path::new("z")).wecom.app.token,
            s.wecom.app.token,
            "credentials are fresh each time"
        );
    }

    #[test]
    fn sample_identities_parse() {
        let today = chrono::NaiveDate::from_ymd_opt(2022, 8, 10).unwrap();
        for n in [0, 1, 17, 999, 6999, 123_456] {
            let id = sample_id_number(n);
            assert!(
                rallybot_handlers::identity::IdNumber::parse(&id, today).is_ok(),
                "{id}"
            );
            assert!(rallybot_handlers::identity::Phone::parse(&sample_phone(n)).is_ok());
        }
        assert_ne!(sample_id_number(1), sample_id_number(2));
        for n in [0, 999, 1000, 999_999, 5_000_000] {
            let id = distinct_id_number(n);
            assert!(
                rallybot_handlers::identity::IdNumber::parse(&id, today).is_ok(),
                "{id}"
            );
        }
        assert_ne!(distinct_id_number(7000), distinct_id_number(0));
        assert_eq!(sample_id_number(7000), sample_id_number(0));
    }

    #[test]
    fn voting_time_of_the_bundled_campaign_is_in_august_2022() {
        let campaign = rallybot_handlers::campaign::load_campaign(&bundled_campaign()).unwrap();
        let at = voting_time(&campaign).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-08-10T01:00:00+00:00");
        assert!(campaign.is_open(Opening::Vote, at));
        assert!(campaign.is_open(Opening::Submit, at));
    }

    #[test]
    fn every_bundled_campaign_is_rehearsed_inside_an_active_stage() {
        let dir = bundled_campaign().parent().unwrap().to_path_buf();
        for (file, expected) in [
            ("longjiang-2022.toml", "2022-08-10T09:00:00+08:00"),
            // No tracks: the 活动推进 stage, where the counties report their work.
            ("linfen-2020.toml", "2020-06-24T09:00:00+08:00"),
            ("loudi-2022.toml", ""),
        ] {
            let campaign = rallybot_handlers::campaign::load_campaign(&dir.join(file)).unwrap();
            let at = active_time(&campaign).unwrap();
            let stage = campaign
                .stage_at(at)
                .unwrap_or_else(|| panic!("{file}: {at}"));
            assert!(stage.starts <= at && at < stage.ends, "{file}");
            if !expected.is_empty() {
                assert_eq!(
                    at,
                    DateTime::parse_from_rfc3339(expected).unwrap(),
                    "{file}"
                );
            }
        }
    }
}
