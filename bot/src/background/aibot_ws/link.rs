//! The way into the live long connection for whoever needs to send on it (the push transport,
//! the replies to callbacks): a frame goes to the connection's task, which writes it and hands
//! back WeCom's answer to its `req_id`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rallybot_messages::longconn::Frame;
use tokio::sync::{mpsc, oneshot};

/// How long WeCom's answer to a frame may take (the official SDKs wait 5 s).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a frame got no positive answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the AI bot's long connection is not up on this instance")]
    NotConnected,
    #[error("the long connection closed before WeCom answered")]
    Closed,
    #[error("WeCom did not answer within {0:?}")]
    Timeout(Duration),
    #[error("WeCom answered errcode {0}")]
    Errcode(i64),
}

/// A frame for the connection's task, and where to hand WeCom's answer.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub frame: Frame,
    pub answer: Option<oneshot::Sender<i64>>,
}

/// One connection's sending side.
#[derive(Debug, Clone)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl Conn {
    pub(super) fn new(tx: mpsc::UnboundedSender<Outgoing>) -> Conn {
        Conn { tx }
    }

    /// Sends `frame` and waits for WeCom's answer to it.
    pub async fn request(&self, frame: Frame) -> Result<(), SendError> {
        let (answer, answered) = oneshot::channel();
        self.tx
            .send(Outgoing {
                frame,
                answer: Some(answer),
            })
            .map_err(|_| SendError::Closed)?;
        match tokio::time::timeout(ANSWER_TIMEOUT, answered).await {
            Ok(Ok(0)) => Ok(()),
            Ok(Ok(errcode)) => Err(SendError::Errcode(errcode)),
            Ok(Err(_)) => Err(SendError::Closed),
            Err(_) => Err(SendError::Timeout(ANSWER_TIMEOUT)),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The connection this instance holds now, if any; shared by the connection loop (which sets
/// and clears it) and the push transport.
#[derive(Debug, Clone, Default)]
pub struct Link {
    current: Arc<Mutex<Option<Conn>>>,
}

impl Link {
    pub fn new() -> Link {
        Link::default()
    }

    pub(super) fn set(&self, conn: Option<Conn>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = conn;
    }

    /// The live connection, if this instance holds one.
    pub fn conn(&self) -> Option<Conn> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|c| !c.is_closed())
    }

    /// Sends on the live connection and waits for WeCom's answer.
    pub async fn request(&self, frame: Frame) -> Result<(), SendError> {
        self.conn()
            .ok_or(SendError::NotConnected)?
            .request(frame)
            .await
    }
}
