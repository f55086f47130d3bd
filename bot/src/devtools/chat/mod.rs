//! The chat console (`rallybot chat`): try the bot with no WeCom account and no config. Each
//! typed line goes through the real signed and encrypted callback to an in-process bot backed
//! by the in-process WeCom simulator (`session`); replies and pushes are printed (`console`).
//! With a terminal it is a line editor (history, Ctrl-D quits); with piped input it reads lines
//! and prints a transcript.

pub mod console;
pub mod session;

use std::io::IsTerminal as _;
use std::sync::Arc;

use anyhow::Context as _;
use rallybot_handlers::campaign::{Campaign, Rule};
use tokio::sync::Mutex;

use console::{Console, Flow, HELP};
use session::Session;

pub use session::SessionOptions;

/// Which surface the console's messages travel on (`rallybot chat --surface`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ChatSurface {
    /// Private chat with the app; groups through the group robot.
    #[default]
    App,
    /// Groups through the AI bot's callbacks.
    Aibot,
    /// Groups through the group robot's callbacks.
    Robot,
    /// Everything through the AI bot's long connection (`wecom.aibot.mode = "websocket"`).
    #[value(name = "aibot-ws")]
    AibotWs,
}

/// The console's default user: organizer and reviewer, not yet registered.
pub const DEFAULT_USER: &str = "zhangwei";

/// Starts the local bot and simulator, talks as `user` until the input ends, stops them.
pub async fn run(user: &str, options: SessionOptions) -> anyhow::Result<()> {
    let session = Arc::new(Session::start(options).await?);
    let console = Arc::new(Mutex::new(Console::on(user, session.surface)));
    println!("{}", welcome(&session, user));
    let result = if std::io::stdin().is_terminal() {
        interactive(session.clone(), console).await
    } else {
        piped(&session, console).await
    };
    match Arc::try_unwrap(session) {
        Ok(session) => session.stop().await?,
        Err(_) => tracing::warn!("the console session is still in use at exit"),
    }
    result
}

fn welcome(session: &Session, user: &str) -> String {
    let now = session
        .clock
        .now()
        .with_timezone(&session.campaign.timezone);
    let mut out = format!(
        "rallybot 本地控制台 / local console\n\
         活动 / campaign: {}\n\
         活动时钟 / clock: {}（演练时钟，可用 /clock 调整）\n\
         你是 {user}：组织者+审核员，尚未注册。试试：{}。\n\
         You are {user}: organizer and reviewer, not yet registered. Messages go through the real encrypted WeCom callbacks.\n\
         {HELP}\n",
        session.campaign.name,
        now.format("%Y-%m-%d %H:%M %Z"),
        first_steps(&session.campaign),
    );
    out.push_str(&format!(
        "活动看板 / dashboard: {}/dashboard（登录口令 / sign-in token: {}）\n",
        session.base_url,
        session.settings.admin.token.expose()
    ));
    out.push_str(&format!(
        "发给你的文件（如「导出 获奖名单」）保存在 / files sent to you are saved in {}\n",
        session.files_dir.display()
    ));
    if let Some(config) = &session.config_file {
        out.push_str(&format!(
            "从这个数据库导出 / to export from this database: \
             rallybot --config {} export winners --format xlsx --output winners.xlsx\n",
            config.display(),
        ));
    }
    out
}

/// What a newcomer could try first in this campaign.
fn first_steps(campaign: &Campaign) -> String {
    let submitted = campaign
        .tracks
        .iter()
        .find(|t| !matches!(t.rule, Rule::Points { .. }));
    if let Some(track) = submitted {
        let code = format!("{}0001", track.code_prefix);
        let give = match track.rule {
            Rule::Votes { .. } => "投票",
            Rule::Likes { .. } => "点赞",
            Rule::Views { .. } | Rule::Points { .. } => "查看",
        };
        return format!(
            "注册 → 提交 {} <链接> <标题> → 审核 {code} 通过 → /as lisi → 注册 → {give} {code}",
            track.code_prefix
        );
    }
    if !campaign.tracks.is_empty() {
        return "注册 → 阅读 45 → 榜单".to_string();
    }
    // No tracks: the officers' side is what there is to try.
    let officer = campaign
        .unions
        .list
        .iter()
        .find(|u| u.parent.is_some() && !u.officers.is_empty())
        .and_then(|u| u.officers.first());
    match (officer, campaign.metrics.first()) {
        (Some(officer), Some(metric)) => format!(
            "注册 → 进度 → /as {officer} → 上报 {} 1 说明 → 进度",
            metric.name
        ),
        _ => "注册 → 阶段".to_string(),
    }
}

/// Piped input: each line is echoed after the prompt, then answered.
async fn piped(session: &Session, console: Arc<Mutex<Console>>) -> anyhow::Result<()> {
    // Standard input is read on its own thread: reading it blocks.
    let (tx, mut lines) = tokio::sync::mpsc::channel::<std::io::Result<String>>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    let mut console = console.lock().await;
    while let Some(line) = lines.recv().await {
        let line = line.context("reading standard input")?;
        if line.trim_start().starts_with('#') {
            continue; // comments in scripts
        }
        println!("{}{}", console.prompt(), line);
        let (out, flow) = console.line(session, &line).await;
        print!("{out}");
        if flow == Flow::Quit {
            break;
        }
    }
    session.settle().await;
    print!("{}", console.new_pushes(session));
    Ok(())
}

enum Input {
    Line(String),
    Interrupted,
    End,
}

/// A terminal: rustyline on its own thread, pushes printed as they arrive.
async fn interactive(session: Arc<Session>, console: Arc<Mutex<Console>>) -> anyhow::Result<()> {
    let (prompt_tx, prompt_rx) = std::sync::mpsc::channel::<String>();
    let (input_tx, mut input_rx) = tokio::sync::mpsc::unbounded_channel::<Input>();
    let (printer_tx, printer_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("cannot open the line editor: {e}");
                let _ = input_tx.send(Input::End);
                return;
            }
        };
        let _ = printer_tx.send(editor.create_external_printer().ok());
        while let Ok(prompt) = prompt_rx.recv() {
            let input = match editor.readline(&prompt) {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    Input::Line(line)
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Input::Interrupted,
                Err(_) => Input::End,
            };
            if input_tx.send(input).is_err() {
                return;
            }
        }
    });
    // Pushes that arrive while the user is typing (scheduled announcements, late replies).
    let watcher = match printer_rx.await.ok().flatten() {
        Some(mut printer) => {
            let session = session.clone();
            let console = console.clone();
            Some(tokio::spawn(async move {
                let mut seen = 0usize;
                loop {
                    session.simulator.wait_until(|all| all.len() > seen).await;
                    seen = session.simulator.received().len();
                    let text = console.lock().await.new_pushes(&session);
                    if !text.is_empty() {
                        use rustyline::ExternalPrinter as _;
                        let _ = printer.print(text.trim_end().to_string());
                    }
                }
            }))
        }
        None => None,
    };
    loop {
        let prompt = console.lock().await.prompt();
        if prompt_tx.send(prompt).is_err() {
            break;
        }
        match input_rx.recv().await {
            Some(Input::Line(line)) => {
                let mut console = console.lock().await;
                let (out, flow) = console.line(&session, &line).await;
                print!("{out}");
                if flow == Flow::Quit {
                    break;
                }
            }
            Some(Input::Interrupted) => continue,
            Some(Input::End) | None => break,
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
        let _ = watcher.await;
    }
    Ok(())
}
