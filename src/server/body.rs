//! Ingest bodies gathered into buffers the daemon keeps between requests.
//!
//! Why: hyper hands a large body over in chunks and the decoders read it in
//! one piece, so each body is copied into one buffer. A fresh buffer per
//! request lands in fresh pages, which glibc hands back to the kernel when
//! the buffer is freed: `perf record -e page-faults` on the daemon put 69%
//! of its page faults (thousands to tens of thousands a second) in that
//! copy, and the frees of those buffers are what kept glibc trimming its
//! heaps. A few buffers kept here, bounded in bytes, keep their pages:
//! Arrow ingest 5–19% more rows per CPU-second, and nearly no faults.
//! Keeping all freed memory in malloc's heaps instead (its thresholds)
//! ended the faults too but held 14 MiB more for the 100-feature model
//! (BENCHMARKS.md, "The allocator and the daemon's page faults" and "Ingest
//! bodies in kept buffers").

use std::pin::Pin;
use std::sync::Mutex;

use axum::body::{Body, Bytes, HttpBody};
use bytes::BytesMut;

/// Why a body could not be gathered.
#[derive(Debug, PartialEq)]
pub enum GatherError {
    /// Over the body limit (announced or sent): 413.
    TooLarge { limit: usize },
    /// The connection failed while the body was read: 400.
    Read(String),
}

/// Buffers kept for the next bodies, at most `budget` bytes of capacity in
/// all.
pub struct BodyPool {
    free: Mutex<Vec<BytesMut>>,
    budget: usize,
}

impl BodyPool {
    pub fn new(budget: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            budget,
        }
    }

    /// Reads `body` whole, at most `limit` bytes, into a kept buffer (the
    /// largest, when several are free) or a new one.
    pub async fn gather(&self, mut body: Body, limit: usize) -> Result<Bytes, GatherError> {
        let announced = body.size_hint().lower();
        if announced > limit as u64 {
            return Err(GatherError::TooLarge { limit });
        }
        let mut buf = self.take();
        buf.reserve(announced as usize);
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| GatherError::Read(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    self.give_back(buf.freeze());
                    return Err(GatherError::TooLarge { limit });
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    }

    fn take(&self) -> BytesMut {
        let mut free = super::closer::lock(&self.free);
        // The free list is kept sorted by capacity: the largest is last.
        free.pop().unwrap_or_default()
    }

    /// Keeps a gathered body's buffer for the next one, when nothing else
    /// holds it any more (a decoded batch may still share it) and the
    /// budget has room; otherwise it is freed as usual.
    pub fn give_back(&self, body: Bytes) {
        let Ok(mut buf) = body.try_into_mut() else {
            return;
        };
        buf.clear();
        let mut free = super::closer::lock(&self.free);
        let held: usize = free.iter().map(BytesMut::capacity).sum();
        if held + buf.capacity() <= self.budget {
            let at = free.partition_point(|b| b.capacity() <= buf.capacity());
            free.insert(at, buf);
        }
    }

    /// Capacities of the buffers kept now (smallest first).
    #[cfg(test)]
    fn kept(&self) -> Vec<usize> {
        super::closer::lock(&self.free)
            .iter()
            .map(BytesMut::capacity)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A body sent in chunks, with no announced length.
    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Body::from_stream(stream_of(frames))
    }

    /// A stream of the given items (`futures::stream::iter`).
    fn stream_of(
        items: Vec<Result<Bytes, std::io::Error>>,
    ) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        struct Iter(std::vec::IntoIter<Result<Bytes, std::io::Error>>);
        impl futures_core::Stream for Iter {
            type Item = Result<Bytes, std::io::Error>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                std::task::Poll::Ready(self.0.next())
            }
        }
        Iter(items.into_iter())
    }

    #[test]
    fn a_body_in_chunks_is_gathered_whole_and_its_buffer_reused() {
        let pool = BodyPool::new(1 << 20);
        let body = run(pool.gather(chunked(&[b"ab", b"cd", b"e"]), 100)).unwrap();
        assert_eq!(&body[..], b"abcde");
        let address = body.as_ptr();
        pool.give_back(body);
        assert_eq!(pool.kept().len(), 1);
        let again = run(pool.gather(Body::from("xyz"), 100)).unwrap();
        assert_eq!(&again[..], b"xyz");
        assert_eq!(again.as_ptr(), address, "the kept buffer is used again");
        assert!(pool.kept().is_empty());
    }

    #[test]
    fn bodies_over_the_limit_are_refused_announced_or_not() {
        let pool = BodyPool::new(1 << 20);
        // Announced (a known length, as Content-Length gives).
        let announced = run(pool.gather(Body::from(vec![b'x'; 101]), 100));
        assert_eq!(announced, Err(GatherError::TooLarge { limit: 100 }));
        // Sent in chunks past the limit.
        let sent = run(pool.gather(chunked(&[&[b'x'; 60], &[b'y'; 41]]), 100));
        assert_eq!(sent, Err(GatherError::TooLarge { limit: 100 }));
        // Exactly the limit is fine.
        let exact = run(pool.gather(chunked(&[&[b'x'; 60], &[b'y'; 40]]), 100)).unwrap();
        assert_eq!(exact.len(), 100);
    }

    #[test]
    fn a_failing_connection_is_a_read_error() {
        let pool = BodyPool::new(1 << 20);
        let frames = vec![
            Ok(Bytes::from_static(b"ab")),
            Err(std::io::Error::other("connection reset")),
        ];
        let got = run(pool.gather(Body::from_stream(stream_of(frames)), 100));
        assert!(
            matches!(&got, Err(GatherError::Read(m)) if m.contains("connection reset")),
            "{got:?}"
        );
    }

    #[test]
    fn shared_buffers_are_not_kept_and_the_budget_holds() {
        let pool = BodyPool::new(3000);
        let shared = run(pool.gather(Body::from(vec![1u8; 1000]), 10_000)).unwrap();
        let still_held = shared.slice(10..20);
        pool.give_back(shared);
        assert!(pool.kept().is_empty(), "a slice still holds it");
        drop(still_held);

        let bodies: Vec<Bytes> = [1000, 1500, 2000]
            .iter()
            .map(|&n| run(pool.gather(Body::from(vec![0u8; n]), 10_000)).unwrap())
            .collect();
        for b in bodies {
            pool.give_back(b);
        }
        let kept = pool.kept();
        assert!(kept.iter().sum::<usize>() <= 3000, "{kept:?}");
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.is_sorted(), "{kept:?}");
    }
}
