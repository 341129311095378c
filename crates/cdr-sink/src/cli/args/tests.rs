//! Every flag in --help and in docs/operations.md.
use super::*;

#[test]
fn help_documents_every_flag() {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let archive = cmd.find_subcommand_mut("archive").unwrap();
    let help = archive.render_long_help().to_string();
    for flag in [
        "--type",
        "--start",
        "--end",
        "--out",
        "--format",
        "--api-url",
        "--limit",
        "--concurrency",
        "--max-concurrency",
        "--max-rps",
        "--window",
        "--company-id",
        "--quiet",
        "--log-format",
        "--summary-json",
        "--incremental",
        "--settle",
        "--rescan",
        "--redo",
        "TSG_TOKEN",
        "TSG_PASSWORD",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(help.contains(flag), "archive --help lacks {flag}");
    }
    for (sub, flags) in [
        (
            "verify",
            &[
                "--out",
                "--type",
                "--json",
                "--concurrency",
                "--log-format",
                "AWS_ENDPOINT_URL",
            ][..],
        ),
        (
            "status",
            &[
                "--out",
                "--type",
                "--json",
                "--log-format",
                "AWS_ENDPOINT_URL",
            ][..],
        ),
        (
            "reconcile",
            &[
                "--out",
                "--type",
                "--start",
                "--end",
                "--window",
                "--settle",
                "--concurrency",
                "--json",
                "--api-url",
                "--company-id",
                "--log-format",
                "TSG_TOKEN",
                "TSG_PASSWORD",
                "AWS_ENDPOINT_URL",
                "Exit status: 0",
                "late records",
                "re-rated",
            ][..],
        ),
    ] {
        let help = cmd
            .find_subcommand_mut(sub)
            .unwrap()
            .render_long_help()
            .to_string();
        for flag in flags {
            assert!(help.contains(flag), "{sub} --help lacks {flag}");
        }
    }
    // Every argument of every subcommand has a help text.
    for sub in Cli::command().get_subcommands() {
        for arg in sub.get_arguments() {
            assert!(
                arg.get_help().is_some() || arg.get_id() == "help",
                "{} --{} has no help",
                sub.get_name(),
                arg.get_id()
            );
        }
    }
    Cli::command().debug_assert();
}

/// Operators find every flag, and its variable, in docs/operations.md.
#[test]
fn operations_doc_lists_every_flag() {
    use clap::CommandFactory;
    let doc = include_str!("../../../../../docs/operations.md");
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else {
                continue;
            };
            if long == "help" {
                continue;
            }
            assert!(
                doc.contains(&format!("--{long}")),
                "docs/operations.md does not mention {} --{long}",
                sub.get_name()
            );
            if let Some(env) = arg.get_env() {
                let env = env.to_string_lossy();
                assert!(
                    env == "TSG_API_URL"
                        || env == format!("CDR_SINK_{}", long.replace('-', "_").to_uppercase()),
                    "--{long} reads {env}, not the documented CDR_SINK_<FLAG>"
                );
            } else {
                panic!("{} --{long} has no environment variable", sub.get_name());
            }
        }
    }
}
