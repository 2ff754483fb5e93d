//! The `berth` binary: parses flags, dispatches to one module per subcommand, prints errors as
//! one line and exits with Docker's codes (125 engine error, 126 cannot invoke, 127 not found).

mod cli;
mod spec;

use clap::Parser;

fn main() {
    // Invoked as `berth-runc` (or any name containing "runc"): the OCI runtime front end.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let as_runc = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n.to_string_lossy().contains("runc"));
    if as_runc {
        args.insert(1, "runtime".into());
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(0);
                }
                _ => {
                    let text = e.to_string();
                    let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
                    eprintln!("berth: {first} (see 'berth --help')");
                    std::process::exit(125);
                }
            }
        }
    };
    let result = match &cli.command {
        cli::Command::Run(a) => cli::run::run(&cli.globals, a),
        cli::Command::Runtime { opts, command } => cli::runtime::run(&cli.globals, opts, command),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // Docker's 125 for berth's own errors; the OCI runtime front end exits 1 as runc does.
            let default = if matches!(cli.command, cli::Command::Runtime { .. }) { 1 } else { 125 };
            let code = e.downcast_ref::<cli::ExitCode>().map(|c| c.0).unwrap_or(default);
            // The ExitCode marker is a context layer; print the chain without it.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).filter(|s| !s.starts_with("exit code ")).collect();
            eprintln!("berth: {}", msg.join(": "));
            std::process::exit(code);
        }
    }
}
