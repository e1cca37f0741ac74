//! `pooltop report RECORDING`: the post-mortem of a recorded run, as text,
//! Markdown or JSON, and optionally its timeline as SVG and as a trace.

use crate::cli::ReportArgs;
use crate::report::postmortem;

use super::{Failure, write_stdout};

/// Exit status when the recording could not be read at all.
const EXIT_UNREADABLE: u8 = 1;

pub fn report(args: ReportArgs) -> Result<u8, Failure> {
    let unreadable = |e: postmortem::read::Unreadable| Failure {
        lines: vec![e.0],
        code: EXIT_UNREADABLE,
    };
    let r = postmortem::report(&args.file).map_err(unreadable)?;
    if let Some(stopped) = &r.stopped {
        pooltop::say!("pooltop: {stopped}");
    }
    if let Some(svg) = &args.svg {
        postmortem::svg::write(&args.file, svg, &r).map_err(Failure::usage)?;
    }
    if let Some(trace) = &args.trace {
        crate::report::trace::write_from(&args.file, trace).map_err(|e| {
            Failure::usage(format!("cannot write the trace `{}`: {e}", trace.display()))
        })?;
    }
    let body = if args.json {
        let mut s = serde_json::to_string_pretty(&r).unwrap_or_default();
        s.push('\n');
        s
    } else if args.markdown {
        postmortem::markdown(&r)
    } else {
        postmortem::text(&r)
    };
    write_stdout(body.as_bytes())
}
