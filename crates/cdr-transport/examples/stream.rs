//! Stream the records of one window into your own code: log in, page through
//! one type's records with the `cdr-transport` client, and work on each page
//! as it arrives (here: count yesterday's first hour of SMS records and sum
//! their charges). Nothing is written anywhere; bring your own sink.
//!
//! ```sh
//! cargo run -p cdr-transport --example stream
//! ```
//!
//! Without `TSG_API_URL` in the environment it starts the simulator
//! (`cdr-sim`) in this process and reads from it, so it runs offline. To read
//! from the real API, set `TSG_API_URL` (e.g.
//! `https://api.portal.tsgglobal.world`) and `TSG_TOKEN`, or `TSG_EMAIL` and
//! `TSG_PASSWORD`.

use std::error::Error;

use cdr_core::chrono::{TimeDelta, Utc};
use cdr_core::rust_decimal::Decimal;
use cdr_core::{Cdr, CdrType, Password, Step, Window};
use cdr_transport::{Auth, Client, ClientConfig, RecordsRequest};
use futures_util::TryStreamExt;

/// What this example computes from the records it streams.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Totals {
    pages: u64,
    records: u64,
    /// The sum of the `charge` of the records that have one.
    charge: Decimal,
    /// Records without a charge.
    no_charge: u64,
    /// Elements of a page that are not stored records: members this version
    /// has no fragment for, and records whose values cannot be read.
    skipped: u64,
}

/// Pages through the SMS records of `window` and adds each page to the
/// totals as it arrives: memory holds one page, whatever the window's size.
async fn stream(client: &Client, window: Window) -> Result<Totals, Box<dyn Error>> {
    client.login().await?; // fails fast on bad credentials
    let mut pages = client.records(RecordsRequest::new(CdrType::Sms, window));
    let mut totals = Totals::default();
    while let Some(page) = pages.try_next().await? {
        totals.pages += 1;
        totals.skipped += (page.unknown.len() + page.bad.len()) as u64;
        for record in &page.records {
            totals.records += 1;
            // SMS is answered by `MessageCdr` records.
            if let Cdr::Message(sms) = record {
                match sms.charge {
                    Some(charge) => totals.charge += charge,
                    None => totals.no_charge += 1,
                }
            }
        }
    }
    Ok(totals)
}

/// The first hour of yesterday (UTC).
fn yesterdays_first_hour() -> Result<Window, Box<dyn Error>> {
    let start = Step::DAY.floor(Utc::now()) - TimeDelta::days(1);
    Ok(Window::new(start, start + TimeDelta::hours(1))?)
}

/// A client of the simulator's basic user.
fn sim_client(sim: &cdr_sim::SimHandle) -> Result<Client, Box<dyn Error>> {
    let auth = Auth::Login {
        email: "user@example.com".into(),
        password: Password::new("user-password"),
    };
    Ok(Client::new(
        ClientConfig::new(auth).with_base_url(sim.base_url()),
    )?)
}

/// A client of the API at `url`, with the credentials of the environment
/// (`TSG_TOKEN`, or `TSG_EMAIL` and `TSG_PASSWORD`, or their `_FILE` forms).
fn env_client(url: String) -> Result<Client, Box<dyn Error>> {
    Ok(Client::new(
        ClientConfig::new(Auth::from_env()?).with_base_url(url),
    )?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let window = yesterdays_first_hour()?;
    let (client, sim) = match std::env::var("TSG_API_URL") {
        Ok(url) => (env_client(url)?, None),
        Err(_) => {
            let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await?;
            println!(
                "TSG_API_URL is not set: reading from a simulator at {}",
                sim.base_url()
            );
            (sim_client(&sim)?, Some(sim))
        }
    };
    let totals = stream(&client, window).await?;
    println!(
        "SMS in {window}: {} records in {} pages, charges {} ({} without a charge, {} skipped)",
        totals.records, totals.pages, totals.charge, totals.no_charge, totals.skipped
    );
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's body against a simulator: it sees every record the
    /// simulator holds for the window, and their charges add up the same.
    #[test]
    fn runs() -> Result<(), Box<dyn Error>> {
        tokio::runtime::Runtime::new()?.block_on(async {
            let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await?;
            let window = yesterdays_first_hour()?;
            let totals = stream(&sim_client(&sim)?, window).await?;

            let mut expected = Totals {
                pages: totals.pages,
                ..Totals::default()
            };
            for record in sim.ground_truth(CdrType::Sms, window) {
                expected.records += 1;
                if let Cdr::Message(sms) = record {
                    match sms.charge {
                        Some(charge) => expected.charge += charge,
                        None => expected.no_charge += 1,
                    }
                }
            }
            assert_eq!(totals, expected);
            // Pages of at most 1000 records, the last one possibly empty.
            assert!(totals.pages >= totals.records.div_ceil(1000).max(1));
            sim.shutdown().await;
            Ok(())
        })
    }
}
