//! The texts that end `--help` of each command (after the flags): where
//! credentials and settings come from, what the exit statuses mean, and
//! for reconcile what is compared and when the two views differ.

/// `archive` and `export`, and the program's own help.
pub(super) const AFTER_HELP: &str = "\
Credentials come from the environment, never from flags:
  TSG_TOKEN                   a bearer token (POAPK_...), or
  TSG_EMAIL, TSG_PASSWORD     the customer-portal user (logs in again once if refused)
  TSG_TOKEN_FILE, TSG_PASSWORD_FILE   files holding the secret (mounted secrets)
  TSG_API_URL                 the API base URL (same as --api-url)
Every flag can also be set as CDR_SINK_<FLAG> (e.g. CDR_SINK_OUT, CDR_SINK_CONCURRENCY).
S3 uses the standard AWS environment and config chain: AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL (custom endpoints: path-style).
Logs go to stderr; RUST_LOG (e.g. RUST_LOG=debug) shows more, NO_COLOR turns colour off.

Exit status: 0 all done; 1 some windows failed, or an error stopped the run (the
summary and the log say which); 2 bad input (nothing was requested or written);
130 stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM. A stopped run starts no new
window, aborts its uploads in flight and releases its claims: run the same command
again to resume. --summary-json is written however the run ends.";

/// `verify` and `status`: they read the archive only.
pub(super) const STORE_HELP: &str = "\
No API call is made, so no TSG credentials are needed.
Every flag can also be set as CDR_SINK_<FLAG> (e.g. CDR_SINK_OUT).
S3 uses the standard AWS environment and config chain: AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL (custom endpoints: path-style).

Exit status: 0 when all is well, 1 when a problem was found or the output could not be
read, 2 for bad input, 130/143 when stopped by SIGINT/SIGTERM.";

/// `reconcile`.
pub(super) const RECONCILE_HELP: &str = "\
What is compared: for each finished window (a ledger entry) of the range, the record count
and the content hash (every value of every record, in any order) of the ledger entry with
those of the provider's CSV export of the same window, read as it downloads and never
stored. A window of the range that has ended at least --settle ago but has no ledger entry
is missing; one that another run holds a live claim on is in progress, not a difference.
reconcile reads the archive only: it takes no claim and writes nothing.

When the two can legitimately differ: records that reach the provider after their window
was archived (late records: the counts differ; archiving with a longer --settle catches more
of them), and records re-rated after the fact (a charge changed: only the content differs).
Repair with the commands printed at the end (archive --rescan fetches such windows again and
replaces those that changed; a plain archive fills a missing window), or accept them.

Credentials come from the environment, never from flags:
  TSG_TOKEN, or TSG_EMAIL and TSG_PASSWORD (TSG_TOKEN_FILE, TSG_PASSWORD_FILE: files
  holding the secret); TSG_API_URL is the same as --api-url.
Every flag can also be set as CDR_SINK_<FLAG> (e.g. CDR_SINK_OUT, CDR_SINK_CONCURRENCY).
S3 uses the standard AWS environment and config chain: AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL (custom endpoints: path-style).

Exit status: 0 every window compared equals its export and none is missing; 1 a window
differs, is missing or could not be compared, or the archive or the API could not be read;
2 bad input (nothing was requested); 130/143 stopped by SIGINT/SIGTERM.";
