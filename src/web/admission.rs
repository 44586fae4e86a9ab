//! Who gets a call, so that no one client can hold the server.
//!
//! An accepted offer is first a *pending* offer: answered, its peer connection waiting for the
//! browser to connect. Pending offers have their own small cap ([`AdmissionLimits::max_pending`],
//! of which one address may hold all but one) and a short connect timeout; they take no call
//! slot. A call slot is taken only once the peer connects, and an offer that does not connect in
//! time is dropped, its pending place freed. So a client that floods offers it never connects
//! holds a few pending places for a few seconds each, never a call.
//!
//! A call slot is taken if fewer than [`AdmissionLimits::max_calls`] calls run and the client's
//! address runs fewer than [`AdmissionLimits::max_calls_per_client`], which is below the global
//! cap (see [`AdmissionLimits::check`]): one address can never hold every call (on a server that
//! listens on loopback only, every caller is this machine, and the cap may be any). An offer is
//! refused at once, before any peer connection is built, when the call slots it would need are
//! already taken (calls running, not pending offers) or the pending places are.
//!
//! Each refusal is a [`Refused`]: its HTTP status (503 when the server is full, 429 when this
//! address has its share) and a sentence the page shows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;

/// The admission settings (`duplex serve` flags).
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    /// Most calls at once (`--max-sessions`).
    pub max_calls: usize,
    /// Most calls at once from one address (`--max-sessions-per-client`).
    pub max_calls_per_client: usize,
    /// Most offers answered and not yet connected, in all (`--max-pending-offers`); one address
    /// may hold all but one of them.
    pub max_pending: usize,
    /// How long an answered offer may take to connect (`--connect-timeout-ms`).
    pub connect_timeout: Duration,
    /// Longest call (`--max-call-seconds`): then the agent says goodbye and the call ends.
    pub max_call_length: Duration,
    /// Most HTTP connections open at once from one address (`--max-connections-per-client`).
    pub max_connections_per_client: usize,
}

impl AdmissionLimits {
    /// The per-client call cap when none is given: one below the global cap (at least 1), so
    /// that another address always finds a call; on a server that listens on loopback only,
    /// every caller is this machine, and the cap is the global one.
    pub fn default_calls_per_client(max_calls: usize, loopback_only: bool) -> usize {
        if loopback_only {
            max_calls
        } else {
            max_calls.saturating_sub(1).max(1)
        }
    }

    /// Pending offers one address may hold: all but one of [`max_pending`](Self::max_pending).
    pub fn pending_per_client(&self) -> usize {
        self.max_pending.saturating_sub(1).max(1)
    }

    /// Checks the settings; `Err` says what to change. The per-client call cap must be below
    /// the global one, unless the server listens on loopback only (`loopback_only`): there
    /// every caller is this machine, the per-client cap protects no one, and the global cap
    /// is the one that counts (a bench running several calls from one browser sets it high).
    pub fn check(&self, loopback_only: bool) -> Result<(), String> {
        let at_least_one = [
            ("--max-sessions", self.max_calls),
            ("--max-sessions-per-client", self.max_calls_per_client),
            (
                "--max-connections-per-client",
                self.max_connections_per_client,
            ),
        ];
        if let Some((flag, _)) = at_least_one.iter().find(|(_, n)| *n == 0) {
            return Err(format!("{flag} must be at least 1"));
        }
        if self.max_pending < 2 {
            return Err(
                "--max-pending-offers must be at least 2 (one address may hold all but one)".into(),
            );
        }
        if self.connect_timeout.is_zero() || self.max_call_length.is_zero() {
            return Err("--connect-timeout-ms and --max-call-seconds must be above 0".into());
        }
        let (calls, per_client) = (self.max_calls, self.max_calls_per_client);
        if per_client >= calls && !loopback_only {
            let hint = if calls == 1 {
                "a server that takes calls from other machines needs --max-sessions 2 or more"
                    .to_owned()
            } else {
                format!("give --max-sessions-per-client {} or less", calls - 1)
            };
            return Err(format!(
                "--max-sessions-per-client {per_client} with --max-sessions {calls} would let one \
                 address hold every call; the per-client cap must be below the global one ({hint})"
            ));
        }
        Ok(())
    }
}

/// Why an offer or a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Every call slot is taken (503).
    #[error(
        "the server already runs its maximum of {0} calls; try again when one ends (or restart it with a larger --max-sessions)"
    )]
    Full(usize),
    /// This address runs its share of calls (429).
    #[error(
        "this address already runs {0} calls, the most one address may; end one first (or restart the server with a larger --max-sessions-per-client)"
    )]
    ClientFull(usize),
    /// Every pending place is taken (503).
    #[error("{0} calls are being set up right now, the most at once; try again in a few seconds")]
    PendingFull(usize),
    /// This address holds its share of pending places (429).
    #[error(
        "this address already has {0} calls being set up, the most one address may; try again in a few seconds"
    )]
    ClientPendingFull(usize),
}

impl Refused {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Full(_) | Self::PendingFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::ClientFull(_) | Self::ClientPendingFull(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Its label in `duplex_offers_refused_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Full(_) => "full",
            Self::ClientFull(_) => "client_full",
            Self::PendingFull(_) => "pending_full",
            Self::ClientPendingFull(_) => "client_pending_full",
        }
    }
}

/// A count in all and per address.
#[derive(Debug, Default)]
struct Tally {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

impl Tally {
    fn of(&self, client: IpAddr) -> usize {
        self.by_client.get(&client).copied().unwrap_or(0)
    }

    fn add(&mut self, client: IpAddr) {
        self.total += 1;
        *self.by_client.entry(client).or_default() += 1;
    }

    /// Counted down; an address whose count reaches 0 leaves no entry behind.
    fn remove(&mut self, client: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.by_client.get_mut(&client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_client.remove(&client);
            }
        }
    }
}

/// Calls running and offers pending, in all and per address.
#[derive(Debug, Default)]
struct Counts {
    calls: Tally,
    pending: Tally,
}

/// The server's admission counts; see the module doc.
#[derive(Debug, Default, Clone)]
pub struct Admission {
    counts: Arc<Mutex<Counts>>,
}

impl Admission {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls running now.
    pub fn calls(&self) -> usize {
        self.counts().calls.total
    }

    /// Offers answered and not yet connected (or dropped) now.
    pub fn pending(&self) -> usize {
        self.counts().pending.total
    }

    /// Takes a pending place for an offer from `client`, unless the call slots it would need
    /// or the pending places are taken.
    pub fn admit_offer(
        &self,
        limits: &AdmissionLimits,
        client: IpAddr,
    ) -> Result<PendingPlace, Refused> {
        // An address at its share is told so (429) before it is told the server is full.
        let mut counts = self.counts();
        if counts.calls.of(client) >= limits.max_calls_per_client {
            return Err(Refused::ClientFull(limits.max_calls_per_client));
        }
        if counts.calls.total >= limits.max_calls {
            return Err(Refused::Full(limits.max_calls));
        }
        let share = limits.pending_per_client();
        if counts.pending.of(client) >= share {
            return Err(Refused::ClientPendingFull(share));
        }
        if counts.pending.total >= limits.max_pending {
            return Err(Refused::PendingFull(limits.max_pending));
        }
        counts.pending.add(client);
        Ok(PendingPlace {
            admission: self.clone(),
            client,
        })
    }

    /// Turns a connected offer's pending place into a call slot, if one is free for its
    /// address; the pending place is freed either way.
    pub fn take_call(
        &self,
        limits: &AdmissionLimits,
        place: PendingPlace,
    ) -> Result<CallSlot, Refused> {
        let client = place.client;
        drop(place);
        let mut counts = self.counts();
        if counts.calls.of(client) >= limits.max_calls_per_client {
            return Err(Refused::ClientFull(limits.max_calls_per_client));
        }
        if counts.calls.total >= limits.max_calls {
            return Err(Refused::Full(limits.max_calls));
        }
        counts.calls.add(client);
        Ok(CallSlot {
            admission: self.clone(),
            client,
        })
    }
}

/// An offer's place among the pending ones, freed when dropped.
#[derive(Debug)]
pub struct PendingPlace {
    admission: Admission,
    client: IpAddr,
}

impl Drop for PendingPlace {
    fn drop(&mut self) {
        self.admission.counts().pending.remove(self.client);
    }
}

/// A call's slot, freed when dropped.
#[derive(Debug)]
pub struct CallSlot {
    admission: Admission,
    client: IpAddr,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.admission.counts().calls.remove(self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(calls: usize, per_client: usize, pending: usize) -> AdmissionLimits {
        AdmissionLimits {
            max_calls: calls,
            max_calls_per_client: per_client,
            max_pending: pending,
            connect_timeout: Duration::from_secs(5),
            max_call_length: Duration::from_secs(3600),
            max_connections_per_client: 32,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 3));

    #[test]
    fn pending_offers_take_no_call_slot_and_one_address_leaves_a_pending_place() {
        let admission = Admission::default();
        let limits = limits(2, 1, 4);
        let a: Vec<_> = (0..3)
            .map(|_| admission.admit_offer(&limits, A).expect("a pending place"))
            .collect();
        assert_eq!(admission.pending(), 3);
        assert_eq!(admission.calls(), 0);
        assert_eq!(
            admission.admit_offer(&limits, A).unwrap_err(),
            Refused::ClientPendingFull(3)
        );
        let b = admission.admit_offer(&limits, B).expect("B's place");
        assert_eq!(
            admission.admit_offer(&limits, B).unwrap_err(),
            Refused::PendingFull(4)
        );
        drop(a);
        assert_eq!(admission.pending(), 1);
        let call = admission.take_call(&limits, b).expect("a call slot");
        assert_eq!((admission.pending(), admission.calls()), (0, 1));
        drop(call);
        assert_eq!((admission.pending(), admission.calls()), (0, 0));
        assert!(admission.counts().calls.by_client.is_empty());
        assert!(admission.counts().pending.by_client.is_empty());
    }

    #[test]
    fn calls_are_capped_per_address_and_in_all() {
        const C: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 4));
        let admission = Admission::default();
        let limits = limits(3, 2, 4);
        let call = |client| {
            let place = admission.admit_offer(&limits, client).unwrap();
            admission.take_call(&limits, place).unwrap()
        };
        let a = [call(A), call(A)];
        assert_eq!(
            admission.admit_offer(&limits, A).unwrap_err(),
            Refused::ClientFull(2)
        );
        // Two offers from B pending at once: the first to connect gets the last slot.
        let (b1, b2) = (
            admission.admit_offer(&limits, B).unwrap(),
            admission.admit_offer(&limits, B).unwrap(),
        );
        let b = admission.take_call(&limits, b1).unwrap();
        assert_eq!(
            admission.take_call(&limits, b2).unwrap_err(),
            Refused::Full(3)
        );
        assert_eq!(admission.pending(), 0, "the refused place is freed");
        assert_eq!(
            admission.admit_offer(&limits, C).unwrap_err(),
            Refused::Full(3)
        );
        drop((a, b));
        assert_eq!(admission.calls(), 0);
    }

    #[test]
    fn the_per_client_cap_must_stay_below_the_global_one() {
        assert_eq!(AdmissionLimits::default_calls_per_client(2, false), 1);
        assert_eq!(AdmissionLimits::default_calls_per_client(8, false), 7);
        assert_eq!(AdmissionLimits::default_calls_per_client(1, false), 1);
        assert_eq!(AdmissionLimits::default_calls_per_client(2, true), 2);
        assert!(limits(2, 1, 4).check(false).is_ok());
        assert!(limits(2, 2, 4).check(true).is_ok());
        let equal = limits(2, 2, 4).check(false).unwrap_err();
        assert!(
            equal.contains("--max-sessions-per-client 1 or less"),
            "{equal}"
        );
        let single = limits(1, 1, 4).check(false).unwrap_err();
        assert!(single.contains("--max-sessions 2 or more"), "{single}");
        assert!(limits(2, 3, 4).check(true).is_ok());
        assert!(limits(2, 3, 4).check(false).is_err());
        assert!(limits(2, 1, 1).check(false).is_err());
        assert!(limits(0, 1, 4).check(true).is_err());
        assert_eq!(limits(2, 1, 4).pending_per_client(), 3);
    }

    #[test]
    fn each_refusal_has_its_status_and_a_reason_to_show() {
        for (refused, status) in [
            (Refused::Full(2), 503),
            (Refused::PendingFull(4), 503),
            (Refused::ClientFull(1), 429),
            (Refused::ClientPendingFull(3), 429),
        ] {
            assert_eq!(refused.status().as_u16(), status, "{refused}");
            assert!(refused.to_string().len() > 40, "{refused}");
        }
    }
}
