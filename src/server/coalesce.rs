//! One PortOne read for many hints. A webhook only says "this payment changed"; a thousand of
//! them for one payment arriving together need one read of it, not a thousand — else anyone who
//! can reach the webhook can make us hammer PortOne (and spend our API quota).
//!
//! Per payment, hints take turns. A hint whose arrival an already finished read covers (the
//! read began after the hint arrived) is answered by it; otherwise it reads, no sooner than
//! `min_gap` after the payment's previous read. So every hint is followed by a read that began
//! after it, and a payment is read at most once per `min_gap` however many hints arrive.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Slots kept without a hint waiting, before idle ones are dropped.
const KEPT_SLOTS: usize = 1024;

pub struct ReadCoalescer {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    min_gap: Duration,
}

#[derive(Default)]
struct Slot {
    /// hints that arrived, numbered from 1
    arrived: AtomicU64,
    turn: tokio::sync::Mutex<Turn>,
}

#[derive(Default)]
struct Turn {
    /// every hint numbered up to this is covered by a successful read
    covered: u64,
    last_read: Option<Instant>,
}

/// What a hint's turn came to.
#[derive(Debug, PartialEq)]
pub enum Turned<T> {
    /// This hint read, with this result.
    Read(T),
    /// A read that began after this hint arrived has already succeeded.
    Covered,
}

impl ReadCoalescer {
    pub fn new(min_gap: Duration) -> ReadCoalescer {
        ReadCoalescer { slots: Mutex::default(), min_gap }
    }

    /// Runs `read` for a hint about `key`, unless a read that covers the hint succeeds first.
    /// A failed read covers nothing: the next hint in line reads again.
    pub async fn read<T, E, Fut>(
        &self,
        key: &str,
        read: impl FnOnce() -> Fut,
    ) -> Result<Turned<T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().expect("coalescer slots");
            if slots.len() > KEPT_SLOTS {
                slots.retain(|_, s| Arc::strong_count(s) > 1);
            }
            slots.entry(key.to_string()).or_default().clone()
        };
        let mine = slot.arrived.fetch_add(1, Ordering::SeqCst) + 1;
        let mut turn = slot.turn.lock().await;
        if turn.covered >= mine {
            return Ok(Turned::Covered);
        }
        if let Some(last) = turn.last_read {
            tokio::time::sleep_until(last + self.min_gap).await;
        }
        // every hint that has arrived by now is covered by this read, if it succeeds
        let upto = slot.arrived.load(Ordering::SeqCst);
        turn.last_read = Some(Instant::now());
        let result = read().await?;
        turn.covered = upto;
        Ok(Turned::Read(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test]
    async fn hints_arriving_together_share_one_read_and_none_is_left_unread() {
        let coalescer = Arc::new(ReadCoalescer::new(Duration::from_millis(50)));
        let reads = Arc::new(AtomicU32::new(0));
        let hint = || {
            let (coalescer, reads) = (coalescer.clone(), reads.clone());
            tokio::spawn(async move {
                coalescer
                    .read("imp_1", || async {
                        reads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(())
                    })
                    .await
            })
        };
        let together: Vec<_> = (0..200).map(|_| hint()).collect();
        for h in together {
            h.await.unwrap().unwrap();
        }
        let n = reads.load(Ordering::SeqCst);
        assert!((1..=2).contains(&n), "{n} reads for 200 hints at once");
        // a hint after those reads gets a read of its own
        hint().await.unwrap().unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), n + 1);
    }

    #[tokio::test]
    async fn a_failed_read_covers_nothing() {
        let coalescer = ReadCoalescer::new(Duration::ZERO);
        let failed: Result<Turned<()>, &str> = coalescer.read("k", || async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        let next = coalescer.read("k", || async { Ok::<_, &str>(7) }).await;
        assert_eq!(next, Ok(Turned::Read(7)));
    }
}
