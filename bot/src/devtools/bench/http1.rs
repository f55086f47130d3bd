//! One keep-alive HTTP/1.1 connection of the load generator, on hyper's low-level client: no
//! pool, no redirects, no per-request allocation beyond the body, so the generator spends its
//! CPU on what it measures rather than on itself.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What one POST came back with.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

pub struct Connection {
    host: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Opens a connection to `addr` (`127.0.0.1:port`).
    pub async fn open(addr: &str) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when the sender is dropped or the peer closes.
        tokio::spawn(connection);
        Ok(Connection {
            host: addr.to_string(),
            sender,
        })
    }

    /// POSTs `body` to `path_and_query` and reads the whole answer.
    pub async fn post(&mut self, path_and_query: &str, body: String) -> anyhow::Result<Answer> {
        self.sender.ready().await?;
        let request = hyper::Request::post(path_and_query)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "text/xml")
            .body(Full::new(Bytes::from(body)))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }
}
