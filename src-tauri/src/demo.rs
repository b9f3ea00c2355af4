//! The demo caller: a second SIP user agent in the process that calls the app's agent from a
//! seeded number (one per region: JP, FR, KR, US from `sf_emulator::seed::known_callers()`),
//! sending a tone, and sends SMS (SIP MESSAGE) from the same numbers.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use sip::audio::SourceConfig;
use sip::UserAgent;
use tokio::sync::Mutex;

/// The regions with a known caller in the seed, in menu order.
pub const REGIONS: [&str; 4] = ["JP", "FR", "KR", "US"];

/// A greeting per region for the demo SMS.
fn greeting(region: &str) -> &'static str {
    match region {
        "JP" => "お世話になっております。見積もりの件でご連絡ください。",
        "FR" => "Bonjour, pouvez-vous me rappeler au sujet du devis ?",
        "KR" => "안녕하세요, 견적 건으로 연락 부탁드립니다.",
        _ => "Hi, could you call me back about the quote?",
    }
}

/// Calls and texts the app's agent from seeded numbers.
pub struct DemoCaller {
    agent: SocketAddr,
    callers: Vec<sf_emulator::seed::KnownCaller>,
    agents: Mutex<HashMap<String, Arc<UserAgent>>>,
}

impl DemoCaller {
    /// A caller of the agent listening at `agent`.
    pub async fn new(agent: SocketAddr) -> anyhow::Result<Self> {
        Ok(Self {
            agent,
            callers: sf_emulator::seed::known_callers(),
            agents: Mutex::new(HashMap::new()),
        })
    }

    /// The seeded caller of `region` (the first one: a Contact for each region).
    pub fn caller(&self, region: &str) -> anyhow::Result<&sf_emulator::seed::KnownCaller> {
        self.callers
            .iter()
            .find(|k| k.region == region && !k.shared)
            .or_else(|| self.callers.iter().find(|k| k.region == region))
            .with_context(|| format!("no known caller for region {region}"))
    }

    /// The user agent calling from `region`'s number (started on first use).
    async fn agent_for(&self, region: &str) -> anyhow::Result<Arc<UserAgent>> {
        let mut agents = self.agents.lock().await;
        if let Some(ua) = agents.get(region) {
            return Ok(ua.clone());
        }
        let caller = self.caller(region)?;
        let mut config = sip::Config::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            caller.e164,
            "127.0.0.1",
        );
        config.source = SourceConfig::Tone(440.0);
        config.user_agent = "Callpop demo caller".into();
        let (ua, mut events) = UserAgent::start(config)
            .await
            .context("starting the demo caller")?;
        let region_name = region.to_owned();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                tracing::debug!(region = %region_name, ?event, "demo caller");
            }
        });
        let ua = Arc::new(ua);
        agents.insert(region.to_owned(), ua.clone());
        Ok(ua)
    }

    fn agent_uri(&self) -> String {
        format!("sip:agent@{}", self.agent)
    }

    /// Rings the agent from `region`'s seeded number (the call carries a 440 Hz tone).
    pub async fn call(&self, region: &str) -> anyhow::Result<()> {
        let ua = self.agent_for(region).await?;
        let call_id = ua
            .dial(&self.agent_uri())
            .await
            .context("placing the demo call")?;
        tracing::info!(region, call_id, "demo call placed");
        Ok(())
    }

    /// Sends an SMS to the agent from `region`'s seeded number.
    pub async fn sms(&self, region: &str) -> anyhow::Result<()> {
        let ua = self.agent_for(region).await?;
        ua.send_message(&self.agent_uri(), greeting(region))
            .await
            .context("sending the demo SMS")?;
        tracing::info!(region, "demo SMS sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_region_has_a_seeded_caller() {
        let demo = DemoCaller::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 5060)))
            .await
            .expect("a demo caller");
        for region in REGIONS {
            let caller = demo.caller(region).expect("a caller per region");
            assert!(
                caller.e164.starts_with('+'),
                "{region}'s caller dials from an E.164 number, got {}",
                caller.e164
            );
        }
        assert!(demo.caller("DE").is_err(), "no German caller in the seed");
    }
}
