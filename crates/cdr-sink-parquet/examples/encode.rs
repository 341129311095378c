//! Encode records into a Parquet file with this crate's encoder, without the
//! archiver: the VOICE records of yesterday's first hour, fetched page by
//! page with `cdr-transport`, each page encoded as it arrives and the bytes
//! that are ready written to the file (memory holds one row group, whatever
//! the window's size). Then the parquet crate reads the file's row count
//! back.
//!
//! ```sh
//! cargo run -p cdr-sink-parquet --example encode [-- OUT.parquet]
//! ```
//!
//! The file goes to `OUT.parquet`, by default `voice.parquet` in the system's
//! temporary directory. Without `TSG_API_URL` in the environment the example
//! starts the simulator (`cdr-sim`) in this process and reads from it, so it
//! runs offline. To read from the real API, set `TSG_API_URL` (e.g.
//! `https://api.portal.tsgglobal.world`) and `TSG_TOKEN`, or `TSG_EMAIL` and
//! `TSG_PASSWORD`. Records of any other source encode the same way: build
//! `cdr_core::Cdr`s and hand them to `Encoder::encode`.

use std::error::Error;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use cdr_core::chrono::{TimeDelta, Utc};
use cdr_core::{CdrType, Password, Step, Window};
use cdr_sink_api::{ColumnSet, Encoder, Format};
use cdr_sink_parquet::{ParquetFormat, ParquetOptions};
use cdr_transport::{Auth, Client, ClientConfig, RecordsRequest};
use futures_util::TryStreamExt;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// What was written, and what the parquet crate reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    /// Records given to the encoder.
    encoded: u64,
    bytes: u64,
    /// The row count in the file's footer, as the parquet crate reads it.
    rows_read: i64,
    /// The file's column names.
    columns: Vec<String>,
}

/// Encodes the VOICE records of `window` into a Parquet file at `path`.
async fn encode(client: &Client, window: Window, path: &Path) -> Result<Written, Box<dyn Error>> {
    let cdr_type = CdrType::Voice;
    let format = ParquetFormat::new(ParquetOptions::default());
    // Every column of the member that answers VOICE (`VoiceCdr`).
    let mut encoder: Box<dyn Encoder> = format.encoder(ColumnSet::all(cdr_type.record_kind()))?;
    let mut file = File::create(path)?;
    let mut bytes = 0;

    client.login().await?; // fails fast on bad credentials
    let mut pages = client.records(RecordsRequest::new(cdr_type, window));
    while let Some(page) = pages.try_next().await? {
        encoder.encode(&page.records)?;
        // Whole row groups, once there are some: write them out now.
        let ready = encoder.take_ready();
        file.write_all(&ready)?;
        bytes += ready.len() as u64;
    }
    // The last row group and the footer.
    let tail = encoder.finish()?;
    file.write_all(&tail)?;
    bytes += tail.len() as u64;
    file.sync_all()?;

    let reader = SerializedFileReader::new(File::open(path)?)?;
    let meta = reader.metadata().file_metadata();
    Ok(Written {
        encoded: encoder.rows(),
        bytes,
        rows_read: meta.num_rows(),
        columns: meta
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
    })
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
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| std::env::temp_dir().join("voice.parquet"), PathBuf::from);
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
    let written = encode(&client, window, &path).await?;
    println!(
        "VOICE in {window}: {} records encoded into {} ({} bytes); the parquet crate reads {} rows of {} columns: {}",
        written.encoded,
        path.display(),
        written.bytes,
        written.rows_read,
        written.columns.len(),
        written.columns.join(", ")
    );
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's body against a simulator: the file holds one row per
    /// record the simulator holds for the window, under the schema's columns.
    #[test]
    fn runs() -> Result<(), Box<dyn Error>> {
        tokio::runtime::Runtime::new()?.block_on(async {
            let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await?;
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("voice.parquet");
            let window = yesterdays_first_hour()?;
            let written = encode(&sim_client(&sim)?, window, &path).await?;

            let expected = sim.ground_truth(CdrType::Voice, window).count();
            assert_eq!(written.encoded, expected as u64);
            assert_eq!(written.rows_read, expected as i64);
            assert_eq!(written.bytes, std::fs::metadata(&path)?.len());
            let schema: Vec<&str> = CdrType::Voice
                .record_kind()
                .columns()
                .iter()
                .map(|c| c.name)
                .collect();
            assert_eq!(written.columns, schema);
            sim.shutdown().await;
            Ok(())
        })
    }
}
