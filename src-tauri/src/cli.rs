//! Command-line flags (also what tests and benchmarks override).

use std::path::PathBuf;

use clap::Parser;

/// Callpop, the softphone for Salesforce agents.
#[derive(Debug, Clone, Parser)]
#[command(name = "callpop", version, about)]
pub struct Args {
    /// Run against an embedded Salesforce emulator (seed data) with a demo caller in the tray.
    #[arg(long)]
    pub demo: bool,

    /// In demo mode, ring once from this region's known caller as soon as the panel is ready.
    #[arg(long, value_name = "JP|FR|KR|US", value_parser = ["JP", "FR", "KR", "US"])]
    pub demo_call: Option<String>,

    /// Where the database lives (default: the OS data dir; in demo mode a fresh temp dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use a running emulator (its login URL, started with --auto-approve) instead of the
    /// embedded one; implies demo-style sign-in without a browser.
    #[arg(long, value_name = "URL")]
    pub emulator_url: Option<url::Url>,

    /// The SIP agent's UDP port (default: 5060; in demo mode a free port).
    #[arg(long, value_name = "PORT")]
    pub sip_port: Option<u16>,

    /// In an emulated run, where calls and SMS to a bare number go: `host[:port]` (default
    /// `127.0.0.1`, port 5060). A real run takes it from the SIP account.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub sip_domain: Option<String>,

    /// In an emulated run, be a single instance under this name (letters, digits and `_`): a
    /// second launch with the same name hands its links to the first and exits. A real run is
    /// always a single instance, under Callpop's identifier.
    #[arg(long, value_name = "NAME", value_parser = instance_id)]
    pub instance_id: Option<String>,

    /// Links (tel:, callto:, sip:) handed over by the OS when Callpop is launched to open one.
    #[arg(value_name = "LINK")]
    pub links: Vec<String>,
}

/// An `--instance-id`: one element of a D-Bus name (ASCII letters, digits and `_`, at most 64).
fn instance_id(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(text.to_owned())
    } else {
        Err("use 1 to 64 ASCII letters, digits or underscores".to_owned())
    }
}

impl Args {
    /// True when Salesforce is an emulator (embedded or external): sign-in needs no browser and
    /// nothing goes to the OS keychain.
    pub fn emulated(&self) -> bool {
        self.demo || self.emulator_url.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_overrides_parse() {
        let args = Args::try_parse_from([
            "callpop",
            "--demo",
            "--demo-call",
            "JP",
            "--data-dir",
            "/tmp/x",
            "--sip-port",
            "5070",
        ])
        .expect("the documented flags parse");
        assert!(args.demo && args.emulated(), "--demo is emulated");
        assert_eq!(args.demo_call.as_deref(), Some("JP"), "the region is kept");
        assert_eq!(args.sip_port, Some(5070), "the port is kept");
        let args = Args::try_parse_from(["callpop", "--demo", "--sip-domain", "127.0.0.1:5099"])
            .expect("--sip-domain parses");
        assert_eq!(
            args.sip_domain.as_deref(),
            Some("127.0.0.1:5099"),
            "where a demo's calls go is kept as given"
        );
        assert!(
            Args::try_parse_from(["callpop", "--demo-call", "DE"]).is_err(),
            "only the four seeded regions ring"
        );
        let args = Args::try_parse_from(["callpop", "--demo", "--instance-id", "test_7"])
            .expect("--instance-id parses");
        assert_eq!(
            args.instance_id.as_deref(),
            Some("test_7"),
            "the name is kept"
        );
        for bad in ["", "a.b", "a-b", "caf\u{e9}", &"x".repeat(65)] {
            assert!(
                Args::try_parse_from(["callpop", "--instance-id", bad]).is_err(),
                "{bad:?} cannot be part of a D-Bus name"
            );
        }
    }

    #[test]
    fn a_link_argument_is_collected() {
        let args = Args::try_parse_from(["callpop", "tel:+14155550100"]).expect("a link parses");
        assert_eq!(
            args.links,
            vec!["tel:+14155550100".to_owned()],
            "the OS hands the link over as an argument"
        );
        assert!(!args.emulated(), "a plain launch is not emulated");
    }
}
