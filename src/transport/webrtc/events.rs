//! Session events to the page: each [`SessionEvent`] as one JSON text message on the data
//! channel the page opened, held back (up to a bound) until that channel exists.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;

use crate::runtime::SessionEvent;

/// Events kept while the page's channel is not open yet; older ones are dropped beyond this.
const BACKLOG: usize = 256;

/// Forwards events until the session closes its events channel.
pub async fn forward_events(
    mut events: mpsc::Receiver<SessionEvent>,
    mut channels: mpsc::Receiver<Arc<dyn DataChannel>>,
) {
    let mut channel: Option<Arc<dyn DataChannel>> = None;
    let mut backlog: VecDeque<String> = VecDeque::new();
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let Ok(text) = serde_json::to_string(&event) else { continue };
                backlog.push_back(text);
                if backlog.len() > BACKLOG {
                    backlog.pop_front();
                }
            }
            Some(opened) = channels.recv(), if channel.is_none() => channel = Some(opened),
        }
        if let Some(channel) = &channel {
            while let Some(text) = backlog.pop_front() {
                if let Err(e) = channel.send_text(&text).await {
                    tracing::debug!("webrtc: event not sent to the page: {e}");
                }
            }
        }
    }
}
