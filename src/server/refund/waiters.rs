//! How many requests of this process wait for another refund of the same payment. Waiting
//! costs no database connection, but a burst of hundreds would still poll the database every
//! few milliseconds: beyond `MAX_WAITERS` a request is told at once that a refund is in progress.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub const MAX_WAITERS: usize = 32;

fn waiting() -> &'static Mutex<HashMap<i64, usize>> {
    static WAITING: OnceLock<Mutex<HashMap<i64, usize>>> = OnceLock::new();
    WAITING.get_or_init(Default::default)
}

/// A place in a payment's queue of waiters; given back when dropped.
pub struct Waiter {
    payment_id: i64,
}

impl Waiter {
    pub fn join(payment_id: i64) -> Option<Waiter> {
        let mut waiting = waiting().lock().expect("waiters");
        let count = waiting.entry(payment_id).or_default();
        if *count >= MAX_WAITERS {
            return None;
        }
        *count += 1;
        Some(Waiter { payment_id })
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut waiting = waiting().lock().expect("waiters");
        if let Some(count) = waiting.get_mut(&self.payment_id) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(&self.payment_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_few_wait_per_payment_and_places_are_given_back() {
        let places: Vec<Waiter> = (0..MAX_WAITERS).map(|_| Waiter::join(-7).unwrap()).collect();
        assert!(Waiter::join(-7).is_none());
        assert!(Waiter::join(-8).is_some(), "another payment has its own queue");
        drop(places);
        assert!(Waiter::join(-7).is_some());
    }
}
