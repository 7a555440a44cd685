//! How many requests of this app wait for another refund of the same payment. Waiting costs
//! no database connection, but a burst of hundreds would still poll the database every few
//! milliseconds: beyond `MAX_WAITERS` a request is told at once that a refund is in progress.
//! The count belongs to the app's pipeline (`PipelineSettings::waiters`), not to the process:
//! apps on other databases in one process (the tests) never share places.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const MAX_WAITERS: usize = 32;

/// Waiters per payment.
#[derive(Clone, Debug, Default)]
pub struct Waiters(Arc<Mutex<HashMap<i64, usize>>>);

/// A place in a payment's queue of waiters; given back when dropped.
pub struct Waiter {
    waiters: Waiters,
    payment_id: i64,
}

impl Waiters {
    pub fn join(&self, payment_id: i64) -> Option<Waiter> {
        let mut waiting = self.0.lock().expect("waiters");
        let count = waiting.entry(payment_id).or_default();
        if *count >= MAX_WAITERS {
            return None;
        }
        *count += 1;
        Some(Waiter { waiters: self.clone(), payment_id })
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut waiting = self.waiters.0.lock().expect("waiters");
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
        let waiters = Waiters::default();
        let places: Vec<Waiter> = (0..MAX_WAITERS).map(|_| waiters.join(-7).unwrap()).collect();
        assert!(waiters.join(-7).is_none());
        assert!(waiters.join(-8).is_some(), "another payment has its own queue");
        assert!(Waiters::default().join(-7).is_some(), "another app has its own");
        drop(places);
        assert!(waiters.join(-7).is_some());
    }
}
