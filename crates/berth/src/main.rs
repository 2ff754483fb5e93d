//! The `berth` binary: parses flags, dispatches to one module per subcommand, prints errors as
//! one line and exits with Docker's codes (125 engine error, 126 cannot invoke, 127 not found).

mod cli;
mod spec;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
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
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let code = e.downcast_ref::<cli::ExitCode>().map(|c| c.0).unwrap_or(125);
            // The ExitCode marker is a context layer; print the chain without it.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).filter(|s| !s.starts_with("exit code ")).collect();
            eprintln!("berth: {}", msg.join(": "));
            std::process::exit(code);
        }
    }
}
