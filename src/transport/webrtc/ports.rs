//! A fixed range of UDP ports for the peers' media sockets (`duplex serve --rtc-ports`), so that a
//! firewall or a router's port forwarding needs to open only that range instead of every
//! ephemeral port.
//!
//! Each peer connection leases one port of the range for its whole life; the lease gives the port
//! back when dropped. Ports are handed out round-robin, so a port just given back (whose old peer
//! may still be sending a few stray packets) is the last to be reused. A port that something else
//! on the machine holds is skipped. (webrtc-rs 0.21 has no UDP mux yet, so peers cannot share one
//! port.)

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

/// An inclusive range of UDP ports and which of them peers hold now.
#[derive(Debug)]
pub struct PortRange {
    low: u16,
    high: u16,
    state: Mutex<Leases>,
}

#[derive(Debug, Default)]
struct Leases {
    taken: BTreeSet<u16>,
    /// Where the next search starts.
    next: u16,
}

/// One port of a [`PortRange`], held by one peer connection; given back on drop.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    range: Arc<PortRange>,
}

impl PortLease {
    /// The leased port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.range.leases().taken.remove(&self.port);
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    /// `LOW-HIGH` (inclusive) or a single port `N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let parse = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("`{s}` is not a UDP port (1-65535)"))
        };
        let (low, high) = match text.split_once('-') {
            Some((low, high)) => (parse(low)?, parse(high)?),
            None => (parse(text)?, parse(text)?),
        };
        if low > high {
            return Err(format!(
                "the range {text} is backwards: write the lower port first ({high}-{low})"
            ));
        }
        Ok(Self {
            low,
            high,
            state: Mutex::new(Leases {
                taken: BTreeSet::new(),
                next: low,
            }),
        })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

impl PortRange {
    /// How many ports the range holds (at least one).
    pub fn port_count(&self) -> usize {
        usize::from(self.high - self.low) + 1
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, Leases> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leases the next port that no peer holds and that can be bound on `ip`, or says why none
    /// is free.
    pub fn lease(self: &Arc<Self>, ip: IpAddr) -> Result<PortLease, String> {
        let mut leases = self.leases();
        let len = self.port_count() as u32;
        for step in 0..len {
            let port = (u32::from(leases.next - self.low) + step) % len + u32::from(self.low);
            let port = port as u16;
            if leases.taken.contains(&port) {
                continue;
            }
            // Something else on the machine may hold it; the peer binds it right after this
            // probe closes it.
            if UdpSocket::bind(SocketAddr::new(ip, port)).is_err() {
                continue;
            }
            leases.taken.insert(port);
            leases.next = if port == self.high {
                self.low
            } else {
                port + 1
            };
            return Ok(PortLease {
                port,
                range: self.clone(),
            });
        }
        Err(format!(
            "all {} UDP ports of --rtc-ports {self} are in use ({} by calls of this server); \
             give a larger range or a smaller --max-sessions",
            self.port_count(),
            leases.taken.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// A range of `n` ports that are free on loopback now.
    fn free_range(n: u16) -> Arc<PortRange> {
        for low in (40000..60000).step_by(97) {
            let sockets: Vec<_> = (low..low + n)
                .map_while(|p| UdpSocket::bind((LOOPBACK, p)).ok())
                .collect();
            if sockets.len() == usize::from(n) {
                return Arc::new(format!("{low}-{}", low + n - 1).parse().unwrap());
            }
        }
        panic!("no {n} free UDP ports in a row on loopback");
    }

    #[test]
    fn ranges_parse_and_bad_ones_say_why() {
        let range: PortRange = "50000-50009".parse().unwrap();
        assert_eq!(
            (range.port_count(), range.to_string()),
            (10, "50000-50009".into())
        );
        assert_eq!("50000".parse::<PortRange>().unwrap().port_count(), 1);
        assert!(
            "0-10"
                .parse::<PortRange>()
                .unwrap_err()
                .contains("not a UDP port")
        );
        assert!(
            "x".parse::<PortRange>()
                .unwrap_err()
                .contains("not a UDP port")
        );
        assert!(
            "9-3"
                .parse::<PortRange>()
                .unwrap_err()
                .contains("backwards")
        );
    }

    #[test]
    fn leases_go_round_the_range_and_come_back_on_drop() {
        let range = free_range(3);
        let low = range.low;
        let a = range.lease(LOOPBACK).unwrap();
        let b = range.lease(LOOPBACK).unwrap();
        let c = range.lease(LOOPBACK).unwrap();
        assert_eq!([a.port(), b.port(), c.port()], [low, low + 1, low + 2]);
        let err = range.lease(LOOPBACK).unwrap_err();
        assert!(err.contains("all 3 UDP ports"), "{err}");
        drop(b);
        assert_eq!(range.lease(LOOPBACK).unwrap().port(), low + 1);
    }

    #[test]
    fn a_port_held_by_another_program_is_skipped() {
        let range = free_range(2);
        let _other = UdpSocket::bind((LOOPBACK, range.low)).unwrap();
        let lease = range.lease(LOOPBACK).unwrap();
        assert_eq!(lease.port(), range.low + 1);
        assert!(range.lease(LOOPBACK).is_err());
    }
}
