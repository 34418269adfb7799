//! A download's bytes, handed from the remote's runtime to the blocking
//! reader the transfer reads ([`ChannelReader`]), for every remote: the
//! runtime's task sends [`Part`]s as they arrive, and a download that ends
//! without saying it is done is an error, never a short file.

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::mpsc;

/// How many parts may wait for the reader.
const PARTS_WAITING: usize = 16;

/// What the runtime's task hands over.
pub enum Part {
    /// The next bytes.
    Data(Bytes),
    /// The download failed: why, said without secrets.
    Failed(String),
    /// Every byte was handed over.
    Done,
}

/// The sending side, for the runtime's task, and the reader it feeds.
pub fn channel() -> (mpsc::Sender<Part>, ChannelReader) {
    let (tx, rx) = mpsc::channel(PARTS_WAITING);
    (
        tx,
        ChannelReader {
            rx: Some(rx),
            buf: Bytes::new(),
        },
    )
}

/// The bytes of a download as a blocking reader.
pub struct ChannelReader {
    rx: Option<mpsc::Receiver<Part>>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            let Some(rx) = self.rx.as_mut() else {
                return Ok(0);
            };
            match rx.blocking_recv() {
                Some(Part::Data(b)) => self.buf = b,
                Some(Part::Done) => {
                    self.rx = None;
                    return Ok(0);
                }
                Some(Part::Failed(why)) => return Err(io::Error::other(why)),
                None => return Err(io::Error::other("download ended early")),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_whole_only_when_it_says_it_is_done() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, mut reader) = channel();
        rt.block_on(async {
            tx.send(Part::Data(Bytes::from_static(b"abc")))
                .await
                .unwrap();
            tx.send(Part::Done).await.unwrap();
        });
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");

        let (tx, mut cut) = channel();
        rt.block_on(async {
            tx.send(Part::Data(Bytes::from_static(b"ab")))
                .await
                .unwrap()
        });
        drop(tx);
        let err = cut.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("ended early"), "{err}");

        let (tx, mut failed) = channel();
        rt.block_on(async { tx.send(Part::Failed("stalled".into())).await.unwrap() });
        assert_eq!(
            failed.read_to_end(&mut Vec::new()).unwrap_err().to_string(),
            "stalled"
        );
    }
}
