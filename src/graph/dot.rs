//! A picture of a task graph (the seeds' `visualize()`): [`Graph::to_dot`] writes it in
//! Graphviz's DOT language, and [`render_svg`] turns that into SVG when Graphviz's `dot`
//! program is installed (a clear [`RenderError::DotMissing`] when it is not).
//!
//! Text only, plus one child process for `dot`; no dependency on the actors or the network.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use super::Graph;
use crate::ids::TaskKey;

/// Why a graph could not be drawn as SVG.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Graphviz's `dot` is not on the `PATH`. Installing Graphviz (`apt install graphviz`)
    /// fixes it; `to_dot()` gives the text meanwhile.
    #[error(
        "Graphviz's `dot` program was not found on the PATH: install Graphviz (e.g. `apt install \
         graphviz`) to draw SVG, or render the text of `to_dot()` elsewhere"
    )]
    DotMissing(#[source] std::io::Error),
    /// `dot` ran but failed (its standard error is kept).
    #[error("`dot` failed ({status}): {stderr}")]
    DotFailed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on standard error.
        stderr: String,
    },
    /// Talking to `dot` failed.
    #[error("could not run `dot`: {0}")]
    Io(#[from] std::io::Error),
}

impl Graph {
    /// The graph in Graphviz's DOT language: a box per task (its function's name and key),
    /// an arrow from each dependency to the task that reads it. Sorted by key, so the same
    /// graph gives the same text.
    pub fn to_dot(&self) -> String {
        let mut keys: Vec<&TaskKey> = self.keys().collect();
        keys.sort_unstable();
        let mut dot = String::from("digraph taskforce {\n  rankdir=BT;\n  node [shape=box];\n");
        for key in &keys {
            let task = self.get(key).expect("a key of the graph");
            let label = format!("{}\\n{}", escape(task.short_name()), escape(key.as_str()));
            let _ = writeln!(dot, "  \"{}\" [label=\"{label}\"];", escape(key.as_str()));
        }
        for key in &keys {
            let mut deps = self.get(key).expect("a key of the graph").dependencies();
            deps.sort_unstable();
            for dep in deps {
                let (from, to) = (escape(dep.as_str()), escape(key.as_str()));
                let _ = writeln!(dot, "  \"{from}\" -> \"{to}\";");
            }
        }
        dot.push_str("}\n");
        dot
    }
}

/// Escapes `text` for a quoted DOT string.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Draws `dot` text (from `to_dot()`) as SVG with Graphviz's `dot` program.
pub fn render_svg(dot: &str) -> Result<Vec<u8>, RenderError> {
    render_svg_with("dot", dot)
}

/// Like [`render_svg`], with the `dot` program at `program`.
pub fn render_svg_with(program: &str, dot: &str) -> Result<Vec<u8>, RenderError> {
    let mut child = match Command::new(program)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RenderError::DotMissing(e))
        }
        Err(e) => return Err(RenderError::Io(e)),
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let text = dot.to_owned();
    // Written from a thread: a large graph would fill the pipe while `dot` fills stdout.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child.wait_with_output()?;
    writer.join().expect("the writer thread")?;
    if !output.status.success() {
        return Err(RenderError::DotFailed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::ArgSpec;
    use crate::graph::GraphTask;
    use crate::ids::FunctionId;

    fn task(name: &'static str, deps: &[&str]) -> GraphTask {
        let args = deps.iter().map(|d| ArgSpec::Key((*d).into())).collect();
        GraphTask::new(FunctionId::new(name, 1), name, args)
    }

    #[test]
    fn a_graph_is_drawn_with_a_box_per_task_and_an_arrow_per_dependency() {
        let mut graph = Graph::new();
        graph.insert("x", task("make", &[]));
        graph.insert("y", task("inc", &["x"]));
        graph.insert("z\"q", task("add", &["x", "y"]));
        let dot = graph.to_dot();
        assert_eq!(
            dot,
            "digraph taskforce {\n  rankdir=BT;\n  node [shape=box];\n  \"x\" [label=\"make\\nx\"];\n  \
             \"y\" [label=\"inc\\ny\"];\n  \"z\\\"q\" [label=\"add\\nz\\\"q\"];\n  \"x\" -> \"y\";\n  \
             \"x\" -> \"z\\\"q\";\n  \"y\" -> \"z\\\"q\";\n}\n"
        );
    }

    #[test]
    fn without_dot_the_error_says_how_to_get_it() {
        let error = render_svg_with("taskforce-no-such-dot-program", "digraph {}").unwrap_err();
        assert!(matches!(error, RenderError::DotMissing(_)));
        assert!(error.to_string().contains("install Graphviz"), "{error}");
    }

    #[test]
    fn with_dot_installed_the_svg_is_drawn() {
        match render_svg("digraph { a -> b }") {
            Ok(svg) => assert!(String::from_utf8_lossy(&svg).contains("<svg")),
            // No Graphviz on this machine: the other test covers the message.
            Err(RenderError::DotMissing(_)) => {}
            Err(other) => panic!("dot is installed but failed: {other}"),
        }
    }
}
